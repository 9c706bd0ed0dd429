"""An Optuna study whose trials are stopped by curvetune's Learning Curve Matching.

The Optuna user's loop as it is (``trial.report``, ``trial.should_prune``), with one
argument added: ``optuna.create_study(pruner=LCMPruner(max_steps=...))``. The model, data
and training are those of ``pytorch_loop.py`` beside this file (an MLP on the bundled
MNIST digits, SGD, batch 32); Optuna's TPE sampler proposes the learning rate and width.

    pip install "curvetune[optuna]"
    python examples/optuna_lcm.py                           # 30 trials of 10 epochs
    python examples/optuna_lcm.py --trials 10 --epochs 5 --storage sqlite:///runs/optuna.db

Every pruned trial says why in its user attrs (``curvetune_stop``): LCM's predicted final
accuracy, its rank and the complete curves it matched.
"""

from __future__ import annotations

import argparse
import time

import optuna
import torch
from pytorch_loop import build_model, evaluate, load_mnist, train_one_epoch

from curvetune.integrations.optuna import USER_ATTR, LCMPruner


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30, help="trials in all (default 30)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per trial (default 10)")
    parser.add_argument(
        "--storage", default=None, help="an Optuna storage URL (default: in memory)"
    )
    parser.add_argument(
        "--train-size", type=int, default=2000, help="training digits used (default 2000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="the sampler's seed (default 0)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    train_x, train_y, val_x, val_y = load_mnist(args.train_size)

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        width = trial.suggest_int("width", 32, 512, log=True)
        torch.manual_seed(trial.number)
        model = build_model(width)
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        shuffle = torch.Generator().manual_seed(trial.number)
        accuracy = 0.0
        for epoch in range(1, args.epochs + 1):
            train_one_epoch(model, optimizer, train_x, train_y, shuffle)
            _, accuracy = evaluate(model, val_x, val_y)
            trial.report(accuracy, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return accuracy

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name="curvetune-lcm",
        storage=args.storage,
        load_if_exists=True,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=args.seed),
        # Epochs are reported as steps 1..epochs; LCM checks every 10% of them once 3
        # trials have completed.
        pruner=LCMPruner(max_steps=args.epochs, first_step=1, min_complete=3),
    )
    began = time.monotonic()
    done = sum(t.state.is_finished() for t in study.trials)
    study.optimize(objective, n_trials=max(0, args.trials - done))
    summarise(study, time.monotonic() - began)
    return 0


def summarise(study: optuna.Study, seconds: float) -> None:
    trials = study.trials
    pruned = [t for t in trials if t.state is optuna.trial.TrialState.PRUNED]
    print(f"{len(trials)} trials, {len(pruned)} pruned by LCM, in {seconds:.1f} s")
    print(f"best: value {study.best_value:.4f} with {study.best_params}")
    if pruned:
        why = pruned[0].user_attrs.get(USER_ATTR, {})
        print(f"first prune: trial {pruned[0].number}: {why.get('reason', '?')}")


if __name__ == "__main__":
    raise SystemExit(main())
