"""Neuron embeddings, their clustering, and how consistent both are across seeds (METHODS §4).

The embedding of a neuron is its readout feature vector, L2-normalized: clustering should see what
a neuron computes, not its gain. For a rotation-equivariant core the same neuron can be represented
by any cyclic shift of its vector along the rotation axis, so each vector is first aligned to a
common template (Ustyuzhaninov et al. 2019, discrete version). Labels from k-means and a diagonal
GMM at every K are then compared across seeds (ARI, Fowlkes–Mallows, V-measure), across k-means
reruns on one embedding (R24 A.4) and, on simulated data, with the planted cell types (and how
separable those types are in the embedding, whether or not clustering finds them). Sweeps over
regularization strengths are summarized by their ARI across seeds beside their performance (R24
Fig. 3, L25 Fig. 5), and the adaptive regularizer's learned per-neuron strengths β are tabulated
beside what they might reflect (prediction quality, oracle, planted type).

Modules, in the order of the data flow: `embeddings` (readout vectors, rotation alignment),
`labels` (k-means and GMM labels), `agreement` (across seeds and k-means reruns), `planted`
(planted cell types and their separability), `responses` (prediction correlation across seeds),
`tsne` (2-D maps), `sweeps` (regularization sweeps and the adaptive β).
"""


class ClusteringError(ValueError):
    """A missing or inconsistent embedding, label or model file; the message names the file."""
