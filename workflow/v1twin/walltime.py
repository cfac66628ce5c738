"""Stop a long job at a safe point when SLURM warns that its time limit is near.

profiles/slurm asks SLURM for SIGUSR1 five minutes before a job's time limit (`--signal=USR1@300`: to
every process of the job step; `B:USR1` would signal only the batch shell, whose death ends the job
before the script hears of it). The handler only sets a flag: stopping in the middle of an optimizer
step or of a state update could leave an inconsistent checkpoint. The long loops (training steps, the
in-silico searches) look at the flag after each step, write their checkpoint and call `stop`;
`files.rule_log` turns that into a log line and exit status `EXIT_STATUS`, so the job fails (outputs
unwritten) and Snakemake's retry resumes from the checkpoint. Scripts without such a loop go on until
SLURM ends them at the limit. Sending the signal by hand (`kill -USR1 <pid>` of the script's process)
checkpoints and stops a local job the same way.
"""
import signal
import threading
from typing import NoReturn

SIGNAL = signal.SIGUSR1
EXIT_STATUS = 75  # EX_TEMPFAIL (sysexits.h): a temporary failure, retrying is expected to succeed

_requested = False


class StopRequested(Exception):
    """The job was asked to stop; its checkpoint has been written."""


def _on_signal(signum, frame) -> None:
    global _requested
    _requested = True


def ignore() -> None:
    """Ignore the signal in this process and, by inheritance, in the processes it starts (until they
    `install` their own handler).

    SLURM signals every process of the job step; the Snakemake process that runs the job, and the
    shell it runs the script in, would die of it (the default action of SIGUSR1) before the script
    has written its checkpoint. workflow/rules/common.smk calls this in every Snakemake process.
    """
    if threading.current_thread() is threading.main_thread():  # the only thread that may set handlers
        signal.signal(SIGNAL, signal.SIG_IGN)


def install() -> None:
    """Let SIGUSR1 request a stop instead of killing the process (rule scripts call this once, via rule_log)."""
    global _requested
    _requested = False
    signal.signal(SIGNAL, _on_signal)


def requested() -> bool:
    """Whether a stop was requested; loops check this at their safe points."""
    return _requested


def stop(where: str) -> NoReturn:
    """End the job after its checkpoint was written; `where` says how far it got."""
    raise StopRequested(f"stop requested (SIGUSR1: time limit near); checkpoint written {where}")
