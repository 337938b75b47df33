"""The order a notebook's cells ran in before a tracked cell, against the notebook's own order.

A result is reproducible from the notebook only if the state it came from is what running the
notebook top to bottom gives. A tracked run is *linear* when the cells executed before it ran in
the notebook's order, each once, as the notebook holds them; otherwise it is *non-linear*, and
``CellOrder.reasons`` names the cells: ran out of order, ran more than once, edited after they
ran, or code no longer in the notebook.

Executions are recorded as the kernel runs them (a ``pre_run_cell`` hook installed by
``%load_ext mlops_jupyter``), with the id JupyterLab gives each cell; executions before the
extension was loaded are matched to cells by their text. Edits are judged against the notebook
as saved, and only when it was saved after the cell ran (running a cell does not save it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Execution:
    """One cell execution: its number (``In[n]``), the cell's id if the frontend gave one,
    its text and when it ran."""

    count: int
    source: str
    cell_id: str | None = None
    at: float = 0.0


@dataclass
class CellOrder:
    """Whether the cells before a tracked cell ran as the notebook reads, and if not, why."""

    linear: bool
    reasons: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return "linear" if self.linear else "non-linear: " + "; ".join(self.reasons)


def executions(
    history: list[str], recorded: dict[int, tuple[str, str | None, float]]
) -> list[Execution]:
    """The executions up to the current one (last): ``history`` is the kernel's ``In``
    (``In[0]`` empty); ``recorded`` holds, by execution number, the text, cell id and time
    seen as each ran (see ``magics.track.record_execution``)."""
    found = []
    for count, source in enumerate(history[1:], 1):
        text, cell_id, at = recorded.get(count, (None, None, 0.0))
        if text == source:
            found.append(Execution(count, source, cell_id, at))
        elif source.strip():  # ran before the extension was loaded: no id, no time
            found.append(Execution(count, source))
    return found


def order(ran: list[Execution], notebook: str | Path | None) -> CellOrder | None:
    """How ``ran`` (the executions up to a tracked cell, which is last) compares with
    ``notebook``'s code cells; None when there is no notebook to compare with. Earlier runs of
    the tracked cell itself are its own doing, not counted."""
    if not ran or notebook is None or not Path(notebook).is_file():
        return None
    import nbformat

    path = Path(notebook)
    try:
        read = nbformat.read(path, as_version=4)
        saved = path.stat().st_mtime
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # not a notebook
        return None
    # positions are the notebook's (markdown cells counted), as a user counts cells
    texts = {i: c.get("source", "") for i, c in enumerate(read.get("cells", []))
             if c.get("cell_type") == "code"}  # fmt: skip
    by_id = {read.cells[i].get("id"): i for i in texts if read.cells[i].get("id")}
    by_text: dict[str, list[int]] = {}
    for i, text in texts.items():
        by_text.setdefault(text.strip(), []).append(i)

    def position(execution: Execution, taken: dict[int, list[int]]) -> int | None:
        at = by_id.get(execution.cell_id) if execution.cell_id else None
        if at is None:
            candidates = by_text.get(execution.source.strip(), [])
            at = next(
                (i for i in candidates if i not in taken), candidates[0] if candidates else None
            )
        return at

    tracked = position(ran[-1], {})
    reasons: list[str] = []
    runs: dict[int, list[int]] = {}  # notebook position -> executions of it
    highest: tuple[int, int] | None = None  # the furthest cell down run so far, and when
    for number, execution in enumerate(ran):
        at = position(execution, runs)
        if at is not None and at == tracked and number < len(ran) - 1:
            continue
        if at is None:
            if execution.at and execution.at < saved:  # else perhaps new and not saved yet
                reasons.append(f"[{execution.count}] ran code that is no longer in the notebook")
            continue
        if execution.at and execution.at < saved and texts[at].strip() != execution.source.strip():
            reasons.append(f"cell {at + 1} was edited after it ran as [{execution.count}]")
        runs.setdefault(at, []).append(execution.count)
        if highest is not None and at < highest[0]:
            reasons.append(f"cell {at + 1} ran after cell {highest[0] + 1} "
                           f"([{execution.count}] after [{highest[1]}])")  # fmt: skip
        if highest is None or at >= highest[0]:
            highest = (at, execution.count)
    for at, counts in sorted(runs.items()):
        if len(counts) > 1:
            shown = ", ".join(f"[{c}]" for c in counts)
            reasons.append(f"cell {at + 1} ran {len(counts)} times ({shown})")
    return CellOrder(not reasons, reasons)
