"""Training engine: the loop (on accelerate), checkpoints, optimizer groups, schedules and metric logging."""

from ..lazy import lazy_getattr

_EXPORTS = {
    "CheckpointError": "checkpoint",
    "latest_checkpoint": "checkpoint",
    "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
    "OptimConfig": "config",
    "TrainConfig": "config",
    "ParamGroup": "optim",
    "build_optimizer": "optim",
    "param_groups": "optim",
    "GlobalRows": "randomness",
    "global_rows": "randomness",
    "mix_seed": "randomness",
    "step_generator": "randomness",
    "stream_id": "randomness",
    "SAFE_ON_RESUME": "resume",
    "ResumeConfigError": "resume",
    "cosine_schedule": "schedules",
    "linear_warmup": "schedules",
    "build_seeded": "seeding",
    "seeded": "seeding",
    "Task": "task",
    "NonFiniteLossError": "trainer",
    "Trainer": "trainer",
    "move_to_device": "trainer",
}

__all__ = ["Task", "Trainer", "TrainConfig", "OptimConfig", "NonFiniteLossError", "cosine_schedule",
           "linear_warmup", "build_optimizer", "param_groups", "ParamGroup", "save_checkpoint", "load_checkpoint",
           "latest_checkpoint", "move_to_device", "step_generator", "global_rows", "GlobalRows", "mix_seed",
           "stream_id", "seeded", "build_seeded", "CheckpointError", "ResumeConfigError", "SAFE_ON_RESUME"]

__getattr__ = lazy_getattr(__name__, _EXPORTS)
