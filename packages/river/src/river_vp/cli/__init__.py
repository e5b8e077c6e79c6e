"""Command-line tools: river-train-ae, river-encode, river-train, river-predict, river-eval."""
