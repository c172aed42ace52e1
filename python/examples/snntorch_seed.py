"""The seed study's snntorch model, run in snntorch and in nacc with the same
weights (its state_dict) and the same input spikes, and the spikes compared.

    pip install ./python torch snntorch
    python python/examples/snntorch_seed.py [--steps 1000] [--seed 0] [--backend cpu]

The model (the NAcc seed study): 100 Poisson inputs excite 50 interneurons
(fc1) and 20 MSNs (fc3); the interneurons inhibit the MSNs (fc2); every
neuron is snntorch's Leaky (beta 0.9, threshold 1, subtract reset). nacc's
default network is this model, its projections named as the module's
layers, so `model.state_dict()` goes straight in.
"""

import argparse

import numpy as np
import snntorch as snn
import torch
from snntorch import spikegen
from torch import nn

import nacc


class NAcc(nn.Module):
    """The seed study's network."""

    def __init__(self, n_in=100, n_int=50, n_msn=20):
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_int)  # input -> interneurons
        self.fc2 = nn.Linear(n_int, n_msn)  # interneurons -| MSNs
        self.fc3 = nn.Linear(n_in, n_msn)  # input -> MSNs
        self.lif_int = snn.Leaky(beta=0.9, threshold=1.0)
        self.lif_msn = snn.Leaky(beta=0.9, threshold=1.0)

    def forward(self, x):
        mem_int = self.lif_int.init_leaky()
        mem_msn = self.lif_msn.init_leaky()
        s_int, s_msn = [], []
        for t in range(x.shape[0]):
            spk_int, mem_int = self.lif_int(self.fc1(x[t]), mem_int)
            spk_msn, mem_msn = self.lif_msn(self.fc3(x[t]) - self.fc2(spk_int), mem_msn)
            s_int.append(spk_int)
            s_msn.append(spk_msn)
        return torch.stack(s_int), torch.stack(s_msn)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backend", default="cpu", choices=["auto", "cpu", "gpu"])
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    model = NAcc()
    rates = torch.empty(100).uniform_(0.1, 0.5)  # spikes per step
    x = spikegen.rate(rates, num_steps=args.steps)  # (steps, 100) of 0.0/1.0
    with torch.no_grad():
        s_int, s_msn = model(x)

    result = nacc.run(
        steps=args.steps,
        backend=args.backend,
        weights=model.state_dict(),  # fc1.weight, fc1.bias, ... as they are
        input_spikes=x.numpy() > 0,
    )

    for name, theirs in (("inter", s_int), ("msn", s_msn)):
        ours = result.spikes[name]
        theirs = theirs.numpy() > 0
        differ = np.argwhere(ours != theirs)
        where = "identical" if len(differ) == 0 else f"first difference at step {differ[0][0]}, neuron {differ[0][1]}"
        print(f"{name:6} snntorch {int(theirs.sum()):6} spikes, nacc {int(ours.sum()):6} spikes: {where}")
        assert len(differ) == 0
    print(f"the same spikes on {result.engine}")


if __name__ == "__main__":
    main()
