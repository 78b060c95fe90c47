#!/usr/bin/env python3
"""PyTorch GPU anchor: the workloads of `o2rl bench --json`, written as a PyTorch user would, on CUDA.

Each workload is timed the way `o2rl bench` times ours: at least 0.5 s and 20 calls of warm-up, then rounds of
back-to-back calls closed by a device synchronisation; `ms` is the median round and `ms_best` the fastest, both per
call (per update for TD3, whose call is a critic-only update plus a delayed one). Modes:

  eager     plain PyTorch: the way most code runs.
  graph     the whole call captured once as a CUDA graph and replayed (Adam with capturable=True): no Python, no
            per-kernel launch overhead; the fastest PyTorch gets without a compiler.
  compile   the loss functions compiled by torch.compile (Inductor, fused Triton kernels; their backward is compiled
            too) and the whole call then captured as a CUDA graph, as `graph`.
  reduce-overhead
            torch.compile(mode="reduce-overhead") on the loss functions (Inductor's own CUDA graphs per compiled
            region); the backward launch and the optimizer steps stay outside.

fp32 throughout with TF32 off (our kernels are plain fp32 FMA). Adam is fused (one kernel per optimizer step), the
strongest setting PyTorch offers. Prints one JSON line per (workload, mode); `--out FILE` writes them too.
"""
import argparse
import json
import math
import statistics
import sys
import time
import traceback

import torch
import torch.nn.functional as F

BATCH, OBS, ACT, HIDDEN = 256, 17, 6, 256
GAMMA, TAU = 0.99, 0.005


def synchronize():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def seconds_per_call(run, calls_per_round, rounds, warmup_calls=20, warmup_seconds=0.5):
    """Best and median seconds per call over rounds (synchronised at each round's end), as o2rl bench does."""
    start = time.perf_counter()
    i = 0
    while i < warmup_calls or time.perf_counter() - start < warmup_seconds:
        run()
        i += 1
    synchronize()
    samples = []
    for _ in range(rounds):
        begin = time.perf_counter()
        for _ in range(calls_per_round):
            run()
        synchronize()
        samples.append((time.perf_counter() - begin) / calls_per_round)
    samples.sort()
    return samples[0], samples[len(samples) // 2]


def linear_parameters(in_dim, out_dim, device):
    """PyTorch's default Linear init: U(±1/√in) for W [out, in] and b [out]."""
    bound = 1.0 / math.sqrt(in_dim)
    w = torch.nn.Parameter((torch.rand(out_dim, in_dim, device=device) * 2 - 1) * bound)
    b = torch.nn.Parameter((torch.rand(out_dim, device=device) * 2 - 1) * bound)
    return w, b


class Mlp:
    """in → hidden (ReLU) × layers → out."""

    def __init__(self, in_dim, hidden, hidden_layers, out_dim, device):
        dims = [in_dim] + [hidden] * hidden_layers + [out_dim]
        self.layers = [linear_parameters(dims[i], dims[i + 1], device) for i in range(len(dims) - 1)]

    def parameters(self):
        return [p for layer in self.layers for p in layer]

    def __call__(self, x):
        for i, (w, b) in enumerate(self.layers):
            x = F.linear(x, w, b)
            if i < len(self.layers) - 1:
                x = F.relu(x)
        return x


class CriticEnsemble:
    """E critics of one shape as stacked weights: (s, a) → Q [E, B], one batched GEMM (baddbmm) per layer."""

    def __init__(self, members, in_dim, hidden, device):
        self.members = members
        self.layers = []
        for a, b in ((in_dim, hidden), (hidden, hidden), (hidden, 1)):
            bound = 1.0 / math.sqrt(a)
            w = torch.nn.Parameter((torch.rand(members, a, b, device=device) * 2 - 1) * bound)
            c = torch.nn.Parameter((torch.rand(members, 1, b, device=device) * 2 - 1) * bound)
            self.layers.append((w, c))

    def parameters(self):
        return [p for layer in self.layers for p in layer]

    def __call__(self, observations, actions, detach_weights=False):
        # detach_weights: the actor loss back-propagates to the action only, not into the critics' weights.
        x = torch.cat([observations, actions], 1).unsqueeze(0).expand(self.members, -1, -1)
        for i, (w, b) in enumerate(self.layers):
            if detach_weights:
                w, b = w.detach(), b.detach()
            x = torch.baddbmm(b, x, w)
            if i < len(self.layers) - 1:
                x = F.relu(x)
        return x.squeeze(-1)


def polyak(targets, sources, tau):
    with torch.no_grad():
        torch._foreach_lerp_(targets, sources, tau)


def adam(parameters, capturable):
    return torch.optim.Adam(parameters, lr=3e-4, fused=True, capturable=capturable)


class TransitionBatch:
    def __init__(self, device):
        self.observations = torch.randn(BATCH, OBS, device=device)
        self.actions = (torch.randn(BATCH, ACT, device=device) * 0.5).clamp(-0.99, 0.99)
        self.rewards = torch.randn(BATCH, device=device)
        self.next_observations = torch.randn(BATCH, OBS, device=device)
        self.terminals = (torch.arange(BATCH, device=device) % 100 == 0).float()


class Gemm:
    """256³: C = A·B, A·Bᵀ, or C += Aᵀ·B (the weight gradient)."""

    def __init__(self, layout, device, mode):
        n = 256
        self.a = torch.randn(n, n, device=device)
        self.b = torch.randn(n, n, device=device)
        self.c = torch.zeros(n, n, device=device)
        self.layout = layout

    def run(self):
        if self.layout == "nn":
            torch.mm(self.a, self.b, out=self.c)
        elif self.layout == "nt":
            torch.mm(self.a, self.b.t(), out=self.c)
        else:
            self.c.addmm_(self.a.t(), self.b)


class MlpStep:
    """MLP 17-256-256-1, batch 256: forward, MSE, backward, Adam."""

    def __init__(self, device, mode):
        # CUDA graphs need gradients that stay put (zeroed in place); under reduce-overhead the gradients come out
        # of Inductor's own graphs and are overwritten by the next replay, so they are made afresh every call.
        self.fresh_gradients = mode == "reduce-overhead"
        self.network = Mlp(OBS, HIDDEN, 2, 1, device)
        self.optimizer = adam(self.network.parameters(), capturable=mode != "eager")
        self.input = torch.randn(BATCH, OBS, device=device)
        self.target = torch.randn(BATCH, 1, device=device)
        self.loss_fn = lambda: F.mse_loss(self.network(self.input), self.target)

    def run(self):
        self.optimizer.zero_grad(set_to_none=self.fresh_gradients)
        self.loss_fn().backward()
        self.optimizer.step()

    def parameters(self):
        return self.network.parameters()


class SacUpdate:
    """
    One SAC update as our SacAgent: α = exp(log α); L_π through the pre-update twin critics (no weight gradients);
    L_α; y with the pre-update actor and α; L_Q = Σ_i MSE(Q_i, y); Adam on log α, actor and critics; Polyak τ.
    The three losses reach disjoint parameters, so one backward of their sum gives each its own gradients.
    """

    def __init__(self, device, mode):
        # CUDA graphs need gradients that stay put (zeroed in place); under reduce-overhead the gradients come out
        # of Inductor's own graphs and are overwritten by the next replay, so they are made afresh every call.
        self.fresh_gradients = mode == "reduce-overhead"
        self.actor = Mlp(OBS, HIDDEN, 2, 2 * ACT, device)
        self.log_std_multiplier = torch.nn.Parameter(torch.ones(1, device=device))
        self.log_std_offset = torch.nn.Parameter(-torch.ones(1, device=device))
        self.critic = CriticEnsemble(2, OBS + ACT, HIDDEN, device)
        self.target_critic = CriticEnsemble(2, OBS + ACT, HIDDEN, device)
        polyak(self.target_critic.parameters(), self.critic.parameters(), 1.0)
        self.log_alpha = torch.nn.Parameter(torch.zeros(1, device=device))
        capturable = mode != "eager"
        self.actor_optimizer = adam(self.actor.parameters() + [self.log_std_multiplier, self.log_std_offset], capturable)
        self.critic_optimizer = adam(self.critic.parameters(), capturable)
        self.alpha_optimizer = adam([self.log_alpha], capturable)
        self.optimizers = [self.alpha_optimizer, self.actor_optimizer, self.critic_optimizer]
        self.data = TransitionBatch(device)
        self.noise = torch.empty(BATCH, ACT, device=device)
        self.next_noise = torch.empty(BATCH, ACT, device=device)
        self.target_entropy = -float(ACT)
        self.loss_fn = self.losses

    def sample(self, observations, noise):
        head = self.actor(observations)
        mean, raw = head[:, :ACT], head[:, ACT:]
        log_std = (raw * self.log_std_multiplier + self.log_std_offset).clamp(-20.0, 2.0)
        u = mean + log_std.exp() * noise
        log_prob = (-0.5 * noise.square() - log_std - 0.5 * math.log(2 * math.pi)).sum(1) \
            - (2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))).sum(1)
        return u.tanh(), log_prob

    def losses(self, noise, next_noise):
        d = self.data
        alpha = self.log_alpha.detach().exp()
        action, log_prob = self.sample(d.observations, noise)
        actor_loss = (alpha * log_prob - self.critic(d.observations, action, detach_weights=True).min(0).values).mean()
        alpha_loss = -(self.log_alpha * (log_prob.detach() + self.target_entropy)).mean()
        with torch.no_grad():
            next_action, next_log_prob = self.sample(d.next_observations, next_noise)
            next_value = self.target_critic(d.next_observations, next_action).min(0).values - alpha * next_log_prob
            target = d.rewards + GAMMA * (1 - d.terminals) * next_value
        critic_loss = (self.critic(d.observations, d.actions) - target).square().mean(1).sum()
        return actor_loss + alpha_loss + critic_loss

    def run(self):
        self.noise.normal_()
        self.next_noise.normal_()
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=self.fresh_gradients)
        self.loss_fn(self.noise, self.next_noise).backward()
        for optimizer in self.optimizers:
            optimizer.step()
        polyak(self.target_critic.parameters(), self.critic.parameters(), TAU)

    def parameters(self):
        return self.actor.parameters() + self.critic.parameters() + [self.log_alpha]


class Td3Update:
    """
    TD3 as our Td3Agent: y with target policy smoothing (σ 0.2, clip 0.5) from μ̄ and min Q̄; L_Q on both critics and
    Adam; every second update L_π = −mean Q_1(s, μ(s)) through the updated critics (no weight gradients), Adam, and
    Polyak on both targets. One call = the two updates of a policy-delay cycle.
    """

    def __init__(self, device, mode):
        # CUDA graphs need gradients that stay put (zeroed in place); under reduce-overhead the gradients come out
        # of Inductor's own graphs and are overwritten by the next replay, so they are made afresh every call.
        self.fresh_gradients = mode == "reduce-overhead"
        self.actor = Mlp(OBS, HIDDEN, 2, ACT, device)
        self.target_actor = Mlp(OBS, HIDDEN, 2, ACT, device)
        polyak(self.target_actor.parameters(), self.actor.parameters(), 1.0)
        self.critic = CriticEnsemble(2, OBS + ACT, HIDDEN, device)
        self.target_critic = CriticEnsemble(2, OBS + ACT, HIDDEN, device)
        polyak(self.target_critic.parameters(), self.critic.parameters(), 1.0)
        capturable = mode != "eager"
        self.actor_optimizer = adam(self.actor.parameters(), capturable)
        self.critic_optimizer = adam(self.critic.parameters(), capturable)
        self.data = TransitionBatch(device)
        self.noise = torch.empty(BATCH, ACT, device=device)
        self.critic_loss_fn = self.critic_loss
        self.actor_loss_fn = self.actor_loss

    def critic_loss(self, noise):
        d = self.data
        with torch.no_grad():
            next_mean = self.target_actor(d.next_observations).tanh()
            next_action = (next_mean + (noise * 0.2).clamp(-0.5, 0.5)).clamp(-1.0, 1.0)
            target = d.rewards + GAMMA * (1 - d.terminals) * self.target_critic(d.next_observations, next_action).min(0).values
        return (self.critic(d.observations, d.actions) - target).square().mean(1).sum()

    def actor_loss(self):
        d = self.data
        return -self.critic(d.observations, self.actor(d.observations).tanh(), detach_weights=True)[0].mean()

    def update(self, delayed):
        self.noise.normal_()
        self.critic_optimizer.zero_grad(set_to_none=self.fresh_gradients)
        self.critic_loss_fn(self.noise).backward()
        self.critic_optimizer.step()
        if not delayed:
            return
        self.actor_optimizer.zero_grad(set_to_none=self.fresh_gradients)
        self.actor_loss_fn().backward()
        self.actor_optimizer.step()
        polyak(self.target_critic.parameters(), self.critic.parameters(), TAU)
        polyak(self.target_actor.parameters(), self.actor.parameters(), TAU)

    def run(self):
        self.update(delayed=False)
        self.update(delayed=True)

    def parameters(self):
        return self.actor.parameters() + self.critic.parameters()


WORKLOADS = {
    # name: (factory, calls per round, updates per call)
    "gemm_256_nn": (lambda device, mode: Gemm("nn", device, mode), 20, 1),
    "gemm_256_nt": (lambda device, mode: Gemm("nt", device, mode), 20, 1),
    "gemm_256_tn": (lambda device, mode: Gemm("tn", device, mode), 20, 1),
    "mlp_step": (MlpStep, 50, 1),
    "sac_update": (SacUpdate, 10, 1),
    "td3_update": (Td3Update, 5, 2),
}


def compile_losses(work, mode):
    """Replaces the workload's loss functions by compiled ones (the backward is compiled with them)."""
    options = {"mode": "reduce-overhead"} if mode == "reduce-overhead" else {}
    for attribute in ("loss_fn", "critic_loss_fn", "actor_loss_fn"):
        if hasattr(work, attribute):
            setattr(work, attribute, torch.compile(getattr(work, attribute), fullgraph=True, **options))


def capture(run, warmups=3):
    """Warms up on a side stream (as CUDA graph capture requires), captures one call, returns its replay."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(warmups):
            run()
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        run()
    torch.cuda.synchronize()
    return graph.replay


def measure(name, mode, rounds, device):
    factory, calls_per_round, updates_per_call = WORKLOADS[name]
    if name.startswith("gemm") and mode in ("compile", "reduce-overhead"):
        return None  # one library GEMM: nothing to compile
    torch.manual_seed(1)
    work = factory(device, mode)
    started = time.perf_counter()
    if mode in ("compile", "reduce-overhead"):
        compile_losses(work, mode)
    run = work.run
    if mode in ("graph", "compile"):
        run = capture(work.run)
    elif mode == "reduce-overhead":
        def run():
            torch.compiler.cudagraph_mark_step_begin()  # a new training step: earlier outputs may be overwritten
            work.run()
    before = [p.detach().clone() for p in work.parameters()] if hasattr(work, "parameters") else None
    run()
    synchronize()
    setup_seconds = time.perf_counter() - started
    if before is not None:
        moved = sum(int(not torch.equal(a, p.detach())) for a, p in zip(before, work.parameters()))
        if moved != len(before):
            raise RuntimeError(f"{name} ({mode}): only {moved} of {len(before)} parameter tensors changed in one call")
        if not all(torch.isfinite(p).all() for p in work.parameters()):
            raise RuntimeError(f"{name} ({mode}): a parameter became non-finite")
    best, median = seconds_per_call(run, calls_per_round, rounds)
    return {
        "library": f"pytorch {torch.__version__}",
        "device": device_name(device),
        "workload": name,
        "mode": mode,
        "ms": round(median * 1e3 / updates_per_call, 4),
        "ms_best": round(best * 1e3 / updates_per_call, 4),
        "rounds": rounds,
        "setup_s": round(setup_seconds, 1),
    }


def device_name(device):
    return torch.cuda.get_device_name() if device.type == "cuda" else "cpu"


def fp32_peak(device, n=8192, repeats=10):
    """Measured fp32 (no TF32) GEMM rate on a large product: the ceiling for the fraction-of-peak column."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    c = torch.empty(n, n, device=device)
    for _ in range(2):
        torch.mm(a, b, out=c)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(repeats):
        torch.mm(a, b, out=c)
    end.record()
    torch.cuda.synchronize()
    seconds = start.elapsed_time(end) / 1e3 / repeats
    return 2.0 * n * n * n / seconds / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--modes", default="eager,graph,compile,reduce-overhead")
    parser.add_argument("--only", default=",".join(WORKLOADS))
    parser.add_argument("--out", default=None)
    parser.add_argument("--device", default="cuda", help="cuda; cpu only to check the eager code without a GPU")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.device == "cuda" and not torch.cuda.is_available():
        print("torch-gpu anchor: PyTorch sees no CUDA device", file=sys.stderr)
        return 2
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    device = torch.device(args.device)
    lines = []

    def emit(record):
        line = json.dumps(record)
        print(line, flush=True)
        lines.append(line)
        if args.out:
            with open(args.out, "w") as f:
                f.write("\n".join(lines) + "\n")

    if device.type == "cuda":
        emit({"library": f"pytorch {torch.__version__}", "device": device_name(device),
              "fp32_gemm_peak_gflops": round(fp32_peak(device), 1)})
    failures = 0
    for mode in args.modes.split(","):
        for name in args.only.split(","):
            if name not in WORKLOADS:
                parser.error(f"unknown workload '{name}'")
            try:
                record = measure(name, mode, args.rounds, device)
            except Exception as error:  # one mode failing must not lose the others' numbers
                failures += 1
                traceback.print_exc()
                record = {"workload": name, "mode": mode, "error": f"{type(error).__name__}: {error}"[:400]}
            if record is not None:
                emit(record)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
