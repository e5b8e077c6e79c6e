"""Precomputed features on disk: a sharded, memory-mapped, resumable store (:mod:`~sparse_core.features.store`).

SCALE's clip features and SF-CLIP's teacher features are written with :class:`FeatureStoreWriter` one shard
at a time (atomically, so a killed run resumes by writing only the missing shards) and read with
:class:`FeatureStore` (memory-mapped, or loaded whole into memory / onto the GPU).
"""

from sparse_core.features.store import (
    INDEX_NAME,
    INDEX_VERSION,
    TEMP_PREFIX,
    FeatureStore,
    FeatureStoreWriter,
    FieldSpec,
    shard_dir_name,
)

__all__ = ["INDEX_NAME", "INDEX_VERSION", "TEMP_PREFIX", "FeatureStore", "FeatureStoreWriter", "FieldSpec",
           "shard_dir_name"]
