"""`tune(cfg)` -> the best trial's model folder: an Optuna search (TPE, median pruning per epoch) over a small
per-strategy space of training settings, each trial one `train` run.

The study lives in SQLite (or any SQLAlchemy URL), so the same command run again after an interruption runs only
the missing trials. Layout of `cfg.out`: trials/trial-NNNN while a trial runs, best/ (the best trial's model folder,
kept up to date after every trial), tune.json (every trial and the best), importance.png and, by default,
study.db. One tune process per study: a trial still marked running when tune starts is taken for one whose
process died.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from textsift import files
from textsift._optional import require
from textsift.config import to_jsonable
from textsift.errors import TextsiftError
from textsift.training.checkpoint import RunState
from textsift.training.config import TuneConfig
from textsift.training.loop import CHECKPOINT
from textsift.training.search_space import Param, check_space, read_space, suggest, with_params
from textsift.training.strategies import remembered_features
from textsift.training.train import train

log = logging.getLogger("textsift")
TRIALS, BEST, SUMMARY, IMPORTANCE = "trials", "best", "tune.json", "importance.png"
# Settings that may differ between the runs of one study: where and how fast it runs, not what it searches.
MAY_DIFFER = {"out", "num_threads", "device", "resume"}


def tune(cfg: TuneConfig) -> Path:
    """Run the study until it holds `cfg.trials` finished (complete or pruned) trials; returns `<out>/best`."""
    optuna = require("optuna", extra="tune")
    space = read_space(cfg.strategy, cfg.space)
    check_space(space, cfg, str(cfg.space or f"the {cfg.strategy} default space"))
    files.writable_dir(cfg.out)
    verbosity = optuna.logging.get_verbosity()
    # Optuna logs each trial with its traceback; textsift logs one line per trial and raises the error itself.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        storage = open_storage(optuna, cfg)
        study = open_study(optuna, cfg, storage, space)
        retry_interrupted(optuna, storage, study, cfg.out)
        done = len(finished(optuna, study))
        if done < cfg.trials:
            log.info("study %r: %d of %d trials finished; running %d", cfg.study_name, done, cfg.trials,
                     cfg.trials - done)
            with remembered_features():  # a head search passes over its texts once, not once a trial
                study.optimize(objective(optuna, cfg, space), n_trials=cfg.trials - done, gc_after_trial=True,
                               callbacks=[lambda s, t: after_trial(optuna, s, t, cfg)])
        else:
            log.info("study %r already holds %d finished trials; pass more --trials to search on", cfg.study_name,
                     done)
    finally:
        optuna.logging.set_verbosity(verbosity)
    best = settle(optuna, study, cfg)
    if best is None:
        raise TextsiftError(f"study {cfg.study_name!r}: no trial completed; see the log for why")
    rows = summary_rows(optuna, study)
    importance = importance_of(optuna, study)
    if importance:
        plot_importance(importance, sum(row["state"] == "complete" for row in rows), cfg.out / IMPORTANCE)
    write_summary(cfg, study, best, rows, importance)
    print_summary(rows, best, study.trials[best].user_attrs.get("metric", "value"))
    return cfg.out / BEST


def open_storage(optuna: Any, cfg: TuneConfig) -> Any:
    """The study's database (created on first use), or one line saying why it cannot be opened."""
    try:
        return optuna.storages.RDBStorage(cfg.storage)
    except Exception as e:  # noqa: BLE001 - SQLAlchemy, its drivers and Optuna each fail their own way
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise TextsiftError(f"--study {cfg.storage}: cannot open the study ({first[:200]}); pass an SQLAlchemy URL "
                            "such as sqlite:///tune.db") from None


def open_study(optuna: Any, cfg: TuneConfig, storage: Any, space: dict[str, Param]) -> Any:
    """Create or load the study; one that searched other settings is refused, since its values would not compare."""
    pruner = optuna.pruners.MedianPruner(n_startup_trials=cfg.prune_startup,
                                         # Optuna may prune from step n_warmup_steps on; steps here are epochs 1, 2 ...
                                         n_warmup_steps=cfg.prune_warmup + 1)
    study = optuna.create_study(storage=storage, study_name=cfg.study_name, direction="maximize",
                                load_if_exists=True, pruner=pruner)
    if study.direction != optuna.study.StudyDirection.MAXIMIZE:
        raise TextsiftError(f"study {cfg.study_name!r} in {cfg.storage} minimises; pass another --study-name")
    searched = searched_settings(cfg, space)
    recorded = study.user_attrs.get("settings")
    if recorded is None:
        study.set_user_attr("settings", searched)
    elif recorded != searched:
        differ = sorted(k for k in recorded.keys() | searched.keys() if recorded.get(k) != searched.get(k))
        raise TextsiftError(f"study {cfg.study_name!r} in {cfg.storage} searched other settings ({', '.join(differ)} "
                            "differ); run it with its own settings, or pass another --study-name")
    # Seeded by what the study holds, so a resumed search does not draw the first trials' parameters again.
    study.sampler = optuna.samplers.TPESampler(seed=cfg.seed + len(study.trials))
    return study


def searched_settings(cfg: TuneConfig, space: dict[str, Param]) -> dict[str, Any]:
    """What makes the trials of a study comparable: the fixed training settings, the data files' contents and the
    space, as the JSON the study stores them in."""
    fixed = {k: v for k, v in to_jsonable(with_params(cfg, {}, cfg.out)).items() if k not in MAY_DIFFER}
    data = [files.sha256(f) for f in (cfg.train_file, cfg.validation_file) if f is not None and f.is_file()]
    space_json = {name: to_jsonable(param) for name, param in space.items()}
    return json.loads(json.dumps({**fixed, "data_sha256": data, "space": space_json}))


def retry_interrupted(optuna: Any, storage: Any, study: Any, out: Path) -> None:
    """A trial still RUNNING lost its process: mark it failed, drop its folder, queue its parameters to run next."""
    study_id = storage.get_study_id_from_name(study.study_name)
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        log.info("trial %d was left running by a process that stopped; running its parameters again", trial.number)
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        storage.set_trial_state_values(trial_id, state=optuna.trial.TrialState.FAIL)
        shutil.rmtree(trial_folder(out, trial.number), ignore_errors=True)
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})


def objective(optuna: Any, cfg: TuneConfig, space: dict[str, Param]) -> Any:
    """One trial: train with its parameters into trials/trial-NNNN, reporting each epoch to the pruner; its value is
    the run's best validation score (the task's selection metric, the epoch the folder holds)."""

    def run(trial: Any) -> float:
        params = suggest(trial, space)
        folder = trial_folder(cfg.out, trial.number)
        trial.set_user_attr("folder", str(folder))
        states: list[RunState] = []

        def report(state: RunState) -> None:
            states.append(state)
            trial.set_user_attr("metric", state.best_name)
            score = state.history[-1].get(state.best_name, state.best_score)
            trial.report(score, state.epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"validation {state.best_name} {score:.4f} after epoch {state.epoch} is "
                                         "below the median of the earlier trials")

        try:
            train(with_params(cfg, params, folder), after_epoch=report)
        except BaseException as e:
            shutil.rmtree(folder, ignore_errors=True)
            if isinstance(e, KeyboardInterrupt):  # Optuna marks the trial failed; the next run tries it again
                trial.study.enqueue_trial(params, user_attrs={"retry_of": trial.number})
            raise
        shutil.rmtree(folder / CHECKPOINT, ignore_errors=True)  # only --resume of that one run would read it
        if not states or states[-1].best_score is None:
            raise TextsiftError(f"trial {trial.number} validated no epoch")
        return float(states[-1].best_score)

    return run


def after_trial(optuna: Any, study: Any, trial: Any, cfg: TuneConfig) -> None:
    """One log line per trial, and best/ and trials/ brought up to date, so an interrupted search leaves them right."""
    best = settle(optuna, study, cfg)
    value = f"{trial.value:.4f}" if trial.value is not None else "-"
    log.info("trial %d %s: %s %s in %.0f s (best: trial %s)", trial.number, trial.state.name.lower(),
             trial.user_attrs.get("metric", "value"), value, seconds(trial) or 0, best)
    write_summary(cfg, study, best, summary_rows(optuna, study), None)


def settle(optuna: Any, study: Any, cfg: TuneConfig) -> int | None:
    """Put the best complete trial's folder in best/ (moved; copied with keep_trials) and delete the other trial
    folders (kept with keep_trials if complete); returns the best trial's number."""
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = max(complete, key=lambda t: t.value).number if complete else None
    target, source = cfg.out / BEST, trial_folder(cfg.out, best) if best is not None else None
    if source is not None and source.is_dir() and (recorded_best(cfg.out) != best or not target.is_dir()):
        incoming, outgoing = cfg.out / ".best-incoming", cfg.out / ".best-outgoing"
        for stale in (incoming, outgoing):
            shutil.rmtree(stale, ignore_errors=True)
        if cfg.keep_trials:
            shutil.copytree(source, incoming)
        else:
            source.rename(incoming)
        if target.is_dir():
            target.rename(outgoing)
        incoming.rename(target)
        shutil.rmtree(outgoing, ignore_errors=True)
    elif best is not None and not target.is_dir():
        raise TextsiftError(f"{target}: the best trial's model folder is gone (trial {best}); run tune with the "
                            "--out of the study's first run")
    kept = {t.number for t in complete if cfg.keep_trials} | running(optuna, study)
    for folder in sorted((cfg.out / TRIALS).glob("trial-[0-9]*")):
        if number_of(folder) not in kept:
            shutil.rmtree(folder)
    if (cfg.out / TRIALS).is_dir() and not any((cfg.out / TRIALS).iterdir()):
        (cfg.out / TRIALS).rmdir()
    return best


def importance_of(optuna: Any, study: Any) -> dict[str, float] | None:
    """Parameter importances (Optuna's default evaluator) over the complete trials, or None when there is too
    little to say (fewer than two complete trials, or no parameter that took two values)."""
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    varying = sorted({name for t in complete for name in t.params
                      if len({json.dumps(u.params.get(name)) for u in complete}) > 1})
    if len(complete) < 2 or not varying:
        log.info("no parameter importance: it needs two complete trials and a parameter that varied")
        return None
    return {name: float(v) for name, v in optuna.importance.get_param_importances(study, params=varying).items()}


def plot_importance(importance: dict[str, float], trials: int, path: Path) -> None:
    """A horizontal bar per parameter, the most important on top."""
    from matplotlib.figure import Figure  # object API: no pyplot state, no GUI backend

    names = list(importance)[::-1]
    figure = Figure(figsize=(6, 1.2 + 0.4 * len(names)))
    axes = figure.add_subplot()
    axes.barh(names, [importance[n] for n in names], color="#4c72b0")
    axes.set_xlabel("importance (share of the total)")
    axes.set_title(f"Parameter importance over {trials} complete trials")
    figure.tight_layout()
    partial = path.with_name(f".{path.name}.partial")
    figure.savefig(partial, format="png", dpi=100)
    files.publish(partial, path)


def summary_rows(optuna: Any, study: Any) -> list[dict[str, Any]]:
    return [{"trial": t.number, "state": t.state.name.lower(), "value": t.value, "params": t.params,
             "seconds": seconds(t), **({"retry_of": t.user_attrs["retry_of"]} if "retry_of" in t.user_attrs else {})}
            for t in study.trials if t.state != optuna.trial.TrialState.WAITING]


def write_summary(cfg: TuneConfig, study: Any, best: int | None, rows: list[dict[str, Any]],
                  importance: dict[str, float] | None) -> None:
    top = study.trials[best] if best is not None else None
    summary = {"study": cfg.storage, "study_name": cfg.study_name, "strategy": cfg.strategy,
               "metric": top.user_attrs.get("metric") if top else None,
               "best": {"trial": best, "value": top.value, "params": top.params, "folder": str(cfg.out / BEST)}
               if top else None, "importance": importance, "trials": rows}
    files.write_text(cfg.out / SUMMARY, json.dumps(summary, indent=2) + "\n")


def print_summary(rows: list[dict[str, Any]], best: int | None, metric: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"tune: validation {metric} per trial (best: trial {best})")
    for column in ("trial", "state", metric, "params", "seconds"):
        table.add_column(column, justify="left" if column in ("state", "params") else "right")
    for row in rows:
        params = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in row["params"].items())
        value = f"{row['value']:.4f}" if row["value"] is not None else "-"
        table.add_row(str(row["trial"]), row["state"], value, params,
                      f"{row['seconds']:.0f}" if row["seconds"] is not None else "-",
                      style="bold" if row["trial"] == best else None)
    Console().print(table)


def recorded_best(out: Path) -> int | None:
    """The trial best/ holds, as the last summary says."""
    try:
        return json.loads((out / SUMMARY).read_text())["best"]["trial"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def finished(optuna: Any, study: Any) -> list[Any]:
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return study.get_trials(deepcopy=False, states=states)


def running(optuna: Any, study: Any) -> set[int]:
    return {t.number for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))}


def trial_folder(out: Path, number: int) -> Path:
    return out / TRIALS / f"trial-{number:04d}"


def number_of(folder: Path) -> int:
    return int(folder.name.removeprefix("trial-"))


def seconds(trial: Any) -> float | None:
    """How long a finished trial ran; none for a failed one (a dead process's trial ends when tune notices)."""
    if trial.duration is None or trial.state.name == "FAIL":
        return None
    return round(trial.duration.total_seconds(), 1)
