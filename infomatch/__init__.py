"""infomatch: self-supervised representations that follow a prior you choose.

Noise-Injected Deep InfoMax (NINE): normalize the encoder's output, add independent noise
during training, and maximize an InfoMax lower bound. The clean normalized output then follows
the prior (Gaussian, uniform, or any continuous law through an invertible map).
"""

__version__ = "0.1.0"
