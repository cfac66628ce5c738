"""DECEMber (D25): a clustering loss that makes the neuron embeddings cluster while the model trains.

The embedding (the raw readout weights of all mice's neurons, D25 App. B.6) is modelled as a mixture of K
multivariate Student-t distributions with diagonal scales and fixed ν. Every optimizer step, on all
neurons: soft assignments q (the mixture's posterior), a sharpened target p ∝ q²/Σ_i q (DEC), the loss
β·KL(p‖q) whose gradient moves the readout weights towards their clusters, and one EM step of the
mixture's means and scales (no gradient reaches the cluster parameters). D25's protocol (Sec. 4): the
pretraining is the first PE epochs of the converged baseline run, clusters start from k-means on its
embedding, training with the loss goes on until early stopping as the baseline's, β is a ratio of the
model loss at that start, and the baseline is k-means and a diagonal GMM on the converged models.

Modules, in the order of the data flow: `plan` (the runs of the config's `december` section, every
setting resolved), `pretrain` (the replayed pretraining, the model loss that sets β), `mixture` (the
t-mixture, the loss and its EM step), `loss` (the embedding it clusters and the loss as a training
extension), `clusters` (a trained run's labels and cluster parameters), `baseline` (k-means and GMM on
the converged models), `tables` (runs, agreement across seeds vs the baseline, the retina-style check),
`toy` (D25 Fig. 2).
"""


class DecemberError(ValueError):
    """A missing or inconsistent DECEMber file or setting; the message names it."""
