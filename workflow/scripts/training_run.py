"""Snakemake entry point of rule training_run: train one variant with one seed on all mice.

Static (Sensorium 2022) and video (Sensorium 2023) mice share the trainer; the caches tell them apart
(v1twin.data.dynamic_cache.is_dynamic_cache), and video mice train on random crops with the `video:`
settings (v1twin.video_training). The resumable state lives beside model.pt (v1twin.model_run.RunFiles)
and is removed once model.pt is written.
"""
from pathlib import Path

import torch

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin import training
from v1twin.data import DataError
from v1twin.data.dynamic_cache import is_dynamic_cache
from v1twin.data.simulate import load_ground_truth
from v1twin.data.tensors import load_training_mice
from v1twin.data.video_tensors import load_video_mice
from v1twin.device import configure_device
from v1twin.files import content_digest, rule_log
from v1twin.model_run import RunFiles, train_new_run
from v1twin.video_training import VideoClips, VideoSettings


def load_mice(rule, caches: dict[str, str]) -> tuple[dict, training.DataKind]:
    """The training view of the mice and their data kind; one run takes static or video mice, not both."""
    video = {name: is_dynamic_cache(Path(cache)) for name, cache in caches.items()}
    if len(set(video.values())) > 1:
        raise DataError(f"variant {rule.wildcards.variant}: mixes video mice {[m for m, v in video.items() if v]} "
                        f"with static mice {[m for m, v in video.items() if not v]}; one core takes one kind")
    if any(video.values()):
        return load_video_mice(caches), VideoClips(VideoSettings.from_dict(dict(rule.params.video)))
    return load_training_mice(caches, rule.params.image_scale), training.STATIC


def main(rule) -> None:
    torch.set_num_threads(rule.threads)
    configure_device(rule.params.device)  # first: `device: cuda` on a node without a GPU fails here
    names = list(rule.params.mice)
    config = training.TrainingConfig.from_dict(dict(rule.params.training))
    files = RunFiles(Path(rule.output.model), Path(rule.output.history), Path(rule.output.metrics))
    data, kind = load_mice(rule, dict(zip(names, rule.input.caches, strict=True)))
    rates = {name: load_ground_truth(path)["rates"] for name, path in zip(names, rule.input.ground_truth)} or None
    train_new_run(files, dict(rule.params.variant), data, config, seed=int(rule.params.seed),
                  image_scale=rule.params.image_scale, rates=rates,
                  input_digests=[content_digest(cache) for cache in rule.input.caches], kind=kind)


with rule_log(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
