"""Known-answer tests of the video cores and the per-frame readout: rotation equivariance at every frame,
causality in time, the untrainable last BatchNorm, regularizer values, paper-size parameter counts."""

import numpy as np
import pytest
import torch

from v1twin.config import temporal_receptive_field
from v1twin.models import GaussianReadout, MouseInfo, Shifter, V1Model
from v1twin.models.dynamic_cores import (
    FrameSignalInput,
    HermiteConv3d,
    PerFrameReadout,
    RotationEquivariant3dCore,
    RotationEquivariantFactorizedCore,
    with_behavior_channels,
)

from helpers import model_settings

torch.set_num_threads(1)

FORMS = [RotationEquivariant3dCore, RotationEquivariantFactorizedCore]
IN_CHANNELS = 3  # video + two behaviour channels
FEATURES = 2


def dynamic_core(form, rotations: int = 4, seed: int = 0, **overrides):
    settings = {"channels": FEATURES, "rotations": rotations, "layers": 3, "input_kernel": 5, "hidden_kernel": 3,
                "input_kernel_time": 3, "hidden_kernel_time": 2, "gamma_input": 1.0, "gamma_hidden": 1.0,
                "bn_momentum": 0.9, "hermite_basis": "analytic", **overrides}
    torch.manual_seed(seed)
    return form(settings.pop("in_channels", IN_CHANNELS), **settings)


def trained_statistics_core(form, rotations: int = 4, basis: str = "analytic"):
    """A core in eval mode whose BatchNorm running statistics are not their trivial init."""
    core = dynamic_core(form, rotations, hermite_basis=basis).train()
    with torch.no_grad():
        core(torch.randn(3, IN_CHANNELS, 6, 13, 13))
    return core.eval()


def video(batch: int = 2, frames: int = 6, size: int = 13, seed: int = 1) -> torch.Tensor:
    return torch.randn(batch, IN_CHANNELS, frames, size, size, generator=torch.Generator().manual_seed(seed))


def perturb_after(x: torch.Tensor, frame: int, frame_axis: int = 2) -> torch.Tensor:
    """x with large noise added to every frame after `frame`."""
    future = [slice(None)] * x.dim()
    future[frame_axis] = slice(frame + 1, None)
    perturbed = x.clone()
    perturbed[tuple(future)] += 50 * torch.randn_like(perturbed[tuple(future)])
    return perturbed


def replay_batch_statistics(core, forward):
    """Run `forward` (train mode), then store each BatchNorm's batch mean and biased variance as its running
    statistics and switch the core to eval mode: the same normalization, now fixed instead of batch-dependent."""
    inputs = {}
    hooks = [norm.norm.register_forward_pre_hook(lambda module, args: inputs.__setitem__(module, args[0]))
             for norm in core.norms]
    with torch.no_grad():
        output = forward()
    for hook in hooks:
        hook.remove()
    for module, normalized in inputs.items():
        module.running_mean.copy_(normalized.mean(dim=(0, 2, 3, 4)))
        module.running_var.copy_(normalized.var(dim=(0, 2, 3, 4), unbiased=False))
    core.eval()
    return output


# ---- rotation equivariance ---------------------------------------------------------------------------


@pytest.mark.parametrize("basis", ["analytic", "neuralpredictors"])
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("rotations", [4, 8])
@pytest.mark.parametrize("quarter_turns", [1, 2, 3])
def test_rotating_the_video_rotates_maps_and_rolls_rotation_axis_at_every_frame(form, rotations, quarter_turns,
                                                                                  basis):
    core = trained_statistics_core(form, rotations, basis)
    x = video()
    with torch.no_grad():
        out = core(x)
        out_rotated_input = core(torch.rot90(x, quarter_turns, dims=(-2, -1)))
    batch, channels, frames, height, width = out.shape
    expected = torch.rot90(out, quarter_turns, dims=(-2, -1)).view(batch, rotations, FEATURES, frames, height, width)
    expected = torch.roll(expected, shifts=quarter_turns * rotations // 4, dims=1).reshape(out.shape)
    for frame in range(frames):
        torch.testing.assert_close(out_rotated_input[:, :, frame], expected[:, :, frame], atol=2e-5, rtol=1e-5)
    assert not torch.allclose(out_rotated_input, torch.rot90(out, quarter_turns, dims=(-2, -1)), atol=1e-2)


def test_single_frame_kernel_is_the_static_hermite_conv_on_every_frame():
    torch.manual_seed(0)
    conv = HermiteConv3d(3, 2, kernel=5, kernel_time=1, rotations=4, rotated_input=False, padding=2,
                         basis="analytic")
    x = video(frames=3)
    with torch.no_grad():
        out = conv(x)
        for frame in range(3):
            torch.testing.assert_close(out[:, :, frame], conv.slices(x[:, :, frame]))


# ---- causality ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("frame", [0, 2, 4])
def test_outputs_never_depend_on_later_frames_in_eval_mode(form, frame):
    core = trained_statistics_core(form)
    x = video()
    with torch.no_grad():
        out, out_perturbed = core(x), core(perturb_after(x, frame))
    assert out.shape == (2, 4 * FEATURES, 6, 9, 9)  # as many frames as the input
    assert torch.equal(out_perturbed[:, :, : frame + 1], out[:, :, : frame + 1])
    assert not torch.allclose(out_perturbed[:, :, frame + 1 :], out[:, :, frame + 1 :], atol=1e-2)


@pytest.mark.parametrize("form", FORMS)
def test_outputs_depend_on_exactly_the_temporal_receptive_field_the_config_check_uses(form):
    core = trained_statistics_core(form)
    settings = {"layers": 3, "input_kernel_time": 3, "hidden_kernel_time": 2}  # dynamic_core's
    field = temporal_receptive_field(settings)  # 3 + 2 x 1 = 5 frames
    x = video(frames=12)
    earlier = x.clone()
    earlier[:, :, :3] += 50 * torch.randn_like(earlier[:, :, :3])  # frames 0-2, video and signals
    with torch.no_grad():
        out, out_perturbed = core(x), core(earlier)
    changed = [not torch.equal(out[:, :, t], out_perturbed[:, :, t]) for t in range(12)]
    assert changed == [t < 3 + field - 1 for t in range(12)]  # frame 2 reaches frame 2 + 4, no further


@pytest.mark.parametrize("form", FORMS)
def test_train_mode_sees_later_frames_only_through_batch_statistics(form):
    """Train-mode BatchNorm normalizes with statistics over all frames, so past outputs do move when the
    future changes; fixing those statistics (eval mode with them as running statistics) reproduces the
    train-mode output and is exactly causal, so they are the only path from the future to the past."""
    core = dynamic_core(form).train()
    x, frame = video(), 2
    with torch.no_grad():
        out_train_perturbed = core(perturb_after(x, frame))
    out_train = replay_batch_statistics(core, lambda: core(x))
    assert not torch.allclose(out_train_perturbed[:, :, : frame + 1], out_train[:, :, : frame + 1], atol=1e-3)
    with torch.no_grad():
        out_fixed, out_fixed_perturbed = core(x), core(perturb_after(x, frame))
    torch.testing.assert_close(out_fixed, out_train, atol=1e-5, rtol=1e-5)
    assert torch.equal(out_fixed_perturbed[:, :, : frame + 1], out_fixed[:, :, : frame + 1])


def dynamic_model(form) -> V1Model:
    """Core, per-frame Gaussian readout and a shifter whose output layer is not zero, so shifts matter."""
    core = dynamic_core(form, in_channels=5)  # video, two behaviour rows, two pupil-centre rows
    rng = np.random.default_rng(0)
    info = MouseInfo(4, rng.uniform(0, 500, (4, 3)), rng.uniform(0.5, 1.5, 4))
    readout = GaussianReadout(core.output_channels, info.cell_motor_coordinates, info.mean_response,
                              **model_settings("readout", "gaussian", init_sigma=0.3))
    shifter = Shifter()
    with torch.no_grad():
        shifter[4].weight.normal_()
    return V1Model(core, {"m": PerFrameReadout(readout)}, {"m": shifter})


def model_inputs(frames: int = 6, seed: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    videos = torch.randn(2, 1, frames, 13, 13, generator=generator)
    behavior, pupil_center = torch.randn(2, 2, frames, 2, generator=generator)
    return with_behavior_channels(videos, behavior, pupil_center), pupil_center


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_full_model_responses_never_depend_on_later_frames(form, mode):
    """Video, behaviour and pupil centre all change after `frame`; responses up to `frame` do not. In train
    mode the core's batch statistics are fixed (see above) and the readout samples its read positions with
    the same seed, one position per frame and neuron."""
    model = dynamic_model(form).train(mode == "train")
    (inputs, pupil_center), frame = model_inputs(), 3
    perturbed_inputs, perturbed_pupil = perturb_after(inputs, frame), perturb_after(pupil_center, frame, 1)

    def responses(x, pupil):
        torch.manual_seed(7)
        with torch.no_grad():
            return model(x, "m", pupil)

    if mode == "train":
        out_train = replay_batch_statistics(model.core, lambda: responses(inputs, pupil_center))
        torch.testing.assert_close(responses(inputs, pupil_center), out_train, atol=1e-5, rtol=1e-5)
    out, out_perturbed = responses(inputs, pupil_center), responses(perturbed_inputs, perturbed_pupil)
    assert out.shape == (2, 6, 4) and bool((out > 0).all())  # (batch, frames, neurons), ELU + 1
    assert torch.equal(out_perturbed[:, : frame + 1], out[:, : frame + 1])
    assert not torch.allclose(out_perturbed[:, frame + 1 :], out[:, frame + 1 :], atol=1e-3)


def test_per_frame_readout_reads_each_frame_with_its_own_shift():
    model = dynamic_model(RotationEquivariantFactorizedCore).eval()
    inputs, pupil_center = model_inputs()
    readout, shifter = model.readouts["m"], model.shifters["m"]
    with torch.no_grad():
        features = model.core(inputs)
        shifts = shifter(pupil_center)
        drive = readout(features, shifts)
        for frame in range(features.shape[2]):
            expected = readout.readout(features[:, :, frame], shifts[:, frame])
            torch.testing.assert_close(drive[:, frame], expected)
    assert not torch.allclose(shifts[:, 0], shifts[:, 1])  # the shift does vary from frame to frame
    assert readout.features is readout.readout.features


# ---- BatchNorm, regularizers, sizes ----------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_last_batchnorm_has_no_parameters_and_the_others_learn(form):
    core = dynamic_core(form).train()
    core(video()).pow(2).sum().backward()
    assert list(core.norms[-1].parameters()) == []
    assert core.norms[-1].norm.running_mean.shape == (FEATURES,)  # statistics still shared by the rotations
    for norm in core.norms[:-1]:
        assert norm.norm.weight.shape == (FEATURES,) and norm.norm.weight.grad.abs().sum() > 0
    assert all(parameter.grad is not None for parameter in core.parameters())


def test_3d_core_regularizer_hand_values():
    """1×1 spatial kernels: every 2-D filter w is one pixel, Laplace (4w)²/w² = 16 whatever w; hidden
    space-time kernels (3, 4) over two frames have norm 5 (per-frame groups would give mean(3, 4) = 3.5)."""
    core = dynamic_core(RotationEquivariant3dCore, input_kernel=1, hidden_kernel=1, gamma_input=2.0,
                        gamma_hidden=0.5)
    with torch.no_grad():
        for conv in core.convs[1:]:
            per_frame = conv.slices.coefficients.view(FEATURES, -1, 2)  # hidden_kernel_time = 2
            per_frame[..., 0], per_frame[..., 1] = 3.0, 4.0
    assert core.regularizer().item() == pytest.approx(2.0 * 16.0 + 0.5 * 5.0)


def test_factorized_core_regularizer_hand_values_ignore_temporal_weights():
    core = dynamic_core(RotationEquivariantFactorizedCore, input_kernel=1, hidden_kernel=1, gamma_input=2.0,
                        gamma_hidden=0.5)
    with torch.no_grad():
        for layer in core.convs[1:]:
            layer.spatial.slices.coefficients.fill_(-2.0)
        penalty = core.regularizer().item()
        for layer in core.convs:
            layer.temporal.slices.coefficients.normal_()
    assert penalty == pytest.approx(2.0 * 16.0 + 0.5 * 2.0)
    assert core.regularizer().item() == pytest.approx(penalty)


def test_3d_input_filters_are_the_temporal_slices_of_the_first_layer():
    core = dynamic_core(RotationEquivariant3dCore)
    weight, filters = core.convs[0].weight(), core.input_filters()
    assert weight.shape == (4 * FEATURES, 1, 3, 5, 5)  # the video channel only: signals have their own weights
    assert filters.shape == (4 * FEATURES, 3, 5, 5)
    torch.testing.assert_close(filters[:, 2], weight[:, 0, 2])  # frame 2


PAPER = {"channels": 16, "rotations": 8, "layers": 4, "input_kernel": 13, "hidden_kernel": 5,
         "input_kernel_time": 11, "hidden_kernel_time": 5}


@pytest.mark.parametrize(
    "form, expected_parameters",
    [
        # input 16·11·91 video Hermite coefficients + 16·4·11 signal weights, hidden 3 × 16·(128·5)·15,
        # BatchNorm 3 × (16 + 16)
        (RotationEquivariant3dCore, 16_016 + 704 + 3 * 153_600 + 96),
        # input 16·91 spatial + 16·4 signal + 16·128·11 temporal, hidden 3 × (16·128·15 + 16·128·5),
        # BatchNorm 3 × 32
        (RotationEquivariantFactorizedCore, 1_456 + 64 + 22_528 + 3 * (30_720 + 10_240) + 96),
    ],
)
def test_paper_size_cores_shapes_and_parameter_counts(form, expected_parameters):
    core = dynamic_core(form, in_channels=5, **PAPER)  # video, two behaviour and two pupil-centre channels
    assert sum(parameter.numel() for parameter in core.parameters()) == expected_parameters
    assert core.output_channels == 128 and core.output_size(36, 64) == (24, 52)
    assert core.feature_channels(3) == [3 + 16 * r for r in range(8)]
    assert core.spatial_convs()[0].weight().shape == (128, 1, 11 if form is RotationEquivariant3dCore else 1, 13, 13)
    assert core.spatial_convs()[1].weight().shape[:2] == (128, 128)


# ---- inputs, determinism -------------------------------------------------------------------------------


def test_behavior_channels_are_constant_over_space():
    videos = torch.zeros(1, 1, 2, 3, 4)
    behavior = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])  # (batch, frames, 2)
    x = with_behavior_channels(videos, behavior)
    assert x.shape == (1, 3, 2, 3, 4)
    assert torch.equal(x[0, 1:, :, 2, 3], torch.tensor([[1.0, 3.0], [2.0, 4.0]]))  # channel × frame
    assert torch.equal(x[0, 1:].amin(dim=(-2, -1)), x[0, 1:].amax(dim=(-2, -1)))
    with pytest.raises(ValueError, match=r"expected \(1, 2, S\)"):
        with_behavior_channels(videos, behavior[:, :1])  # one frame for a two-frame video


def test_frame_signals_drive_every_rotated_copy_alike_through_causal_hand_weights():
    """One signal, two lags: drive(t) = w[0]·s(t−1) + w[1]·s(t), the spatial mean of the signal channel
    (a constant), the same for the R rotated copies of a feature."""
    signal_input = FrameSignalInput(signals=1, features=2, rotations=4, kernel_time=2)
    with torch.no_grad():
        signal_input.weight.copy_(torch.tensor([[[2.0, 3.0]], [[-1.0, 0.5]]]))
    s = torch.tensor([1.0, 10.0, 100.0])
    drive = signal_input(s[None, None, :, None, None].expand(1, 1, 3, 4, 4))
    assert drive.shape == (1, 8, 3, 1, 1)
    expected = torch.tensor([[3.0, 2.0 + 30.0, 20.0 + 300.0], [0.5, -1.0 + 5.0, -10.0 + 50.0]])
    torch.testing.assert_close(drive[0, :, :, 0, 0], expected.repeat(4, 1))


@pytest.mark.parametrize("form", FORMS)
def test_frame_signals_start_silent_and_learn(form):
    core = dynamic_core(form).train()
    x = video()
    x_other_signals = torch.cat([x[:, :1], torch.randn_like(x[:, 1:])], dim=1)
    out = core(x)
    torch.testing.assert_close(core(x_other_signals), out)  # zero weights: only the video counts at first
    out.pow(2).sum().backward()
    assert core.signal_input.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("form", FORMS)
def test_core_rejects_images_naming_the_expected_layout(form):
    with pytest.raises(ValueError, match=r"\(batch, channels, frames, height, width\)"):
        dynamic_core(form)(torch.randn(2, IN_CHANNELS, 13, 13))


@pytest.mark.parametrize("form", FORMS)
def test_same_seed_same_core_and_outputs(form):
    outputs = []
    for _ in range(2):
        core = dynamic_core(form, seed=3).train()
        outputs.append(core(video()).detach())
    assert torch.equal(outputs[0], outputs[1])
    assert not torch.equal(dynamic_core(form, seed=4).train()(video()).detach(), outputs[0])
