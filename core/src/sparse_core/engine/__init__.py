"""Training engine: the loop (on accelerate), checkpoints, optimizer groups, schedules and metric logging."""

from .checkpoint import CheckpointError, latest_checkpoint, load_checkpoint, save_checkpoint
from .config import OptimConfig, TrainConfig
from .optim import ParamGroup, build_optimizer, param_groups
from .randomness import GlobalRows, global_rows, mix_seed, step_generator, stream_id
from .resume import SAFE_ON_RESUME, ResumeConfigError
from .schedules import cosine_schedule, linear_warmup
from .seeding import build_seeded, seeded
from .task import Task
from .trainer import NonFiniteLossError, Trainer, move_to_device

__all__ = ["Task", "Trainer", "TrainConfig", "OptimConfig", "NonFiniteLossError", "cosine_schedule",
           "linear_warmup", "build_optimizer", "param_groups", "ParamGroup", "save_checkpoint", "load_checkpoint",
           "latest_checkpoint", "move_to_device", "step_generator", "global_rows", "GlobalRows", "mix_seed",
           "stream_id", "seeded", "build_seeded", "CheckpointError", "ResumeConfigError", "SAFE_ON_RESUME"]
