"""Model cores, readouts and their regularizers (METHODS §2).

`build_model(config, mice, input_shape)` turns a config variant into a `V1Model`; the pieces live in
cores.py, readouts.py and regularizers.py.
"""

from v1twin.models.cores import CNNCore, Core, RotationEquivariantCore, hermite_basis
from v1twin.models.network import MouseInfo, V1Model, build_model
from v1twin.models.readouts import FactorizedReadout, GaussianReadout, PositionNetwork, Shifter

__all__ = [
    "CNNCore",
    "Core",
    "FactorizedReadout",
    "GaussianReadout",
    "MouseInfo",
    "PositionNetwork",
    "RotationEquivariantCore",
    "Shifter",
    "V1Model",
    "build_model",
    "hermite_basis",
]
