"""DECEMber (D25): a clustering loss that makes the neuron embeddings cluster while the model trains.

The embedding of the neurons of all mice is modelled as a mixture of K multivariate Student-t
distributions with diagonal scales and fixed ν. Every optimizer step, on all neurons:
soft assignments q (the mixture's posterior), a sharpened target p ∝ q²/Σ_i q (DEC), the loss
β·KL(p‖q) whose gradient moves the readout weights towards their clusters, and one EM step of
the mixture's means and scales (no gradient reaches the cluster parameters). Clusters start from
k-means on the embedding of a model pretrained for PE epochs without the loss (METHODS §5).
Once a neuron's q is one-hot, p = q and its gradient vanishes: the loss acts on the neurons
between clusters, so the partition stays close to the k-means initialization (on the simulated
types every posterior saturates within the first epoch with the loss, whatever β). Each run therefore
keeps the k-means partition it started from, and the tables compare DECEMber with that start.

Modules, in the order of the data flow: `plan` (the runs of the config's `december` section, every
setting resolved), `mixture` (the t-mixture, the loss and its EM step), `loss` (the embedding it
clusters and the loss as a training extension), `clusters` (a trained run's labels and cluster
parameters), `tables` (runs, agreement across seeds, planted types), `toy` (D25 Fig. 2).
"""


class DecemberError(ValueError):
    """A missing or inconsistent DECEMber file or setting; the message names it."""
