"""Flow matching for video prediction: probability paths, context sampling and ODE sampling."""

from river_vp.flow.conditioning import (
    OFFICIAL_FORM,
    ConditionSpec,
    context_range,
    official_condition_spec,
    sample_context_indices,
    sample_training_indices,
)
from river_vp.flow.matching import conditional_path, flow_matching_loss, target_field, target_field_from_noise
from river_vp.flow.sampler import SamplerConfig, sample_next_frame

__all__ = [
    "OFFICIAL_FORM",
    "ConditionSpec",
    "SamplerConfig",
    "conditional_path",
    "context_range",
    "flow_matching_loss",
    "official_condition_spec",
    "sample_context_indices",
    "sample_next_frame",
    "sample_training_indices",
    "target_field",
    "target_field_from_noise",
]
