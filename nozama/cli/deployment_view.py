"""What `nozama watch` and `nozama deploy` draw: a snapshot of a service's deployment
(a plain dict that deploy.snapshot() reads from the public APIs) as text.

Two pure functions of the snapshot, so that tests can draw any moment of a
deployment without a server: `plain()`, the lines printed when stdout is not a
terminal (one block per change, for logs and scripts), and `live()`, the rich
renderable redrawn in place on a terminal: a progress bar per revision, the
production traffic split as one bar, the stage and the time left in its bake,
the lifecycle hooks waiting, the alarm and canary-analysis verdicts and the
newest service events.

The snapshot's members: service, status, stage, reason, revisions [(name, status,
running, desired, rolloutState)], groups [{name, share, targets, healthy,
requests, errors}], and, drawn by `live()` only: split (percent of production
traffic on the new revision, or None without a traffic shift), old/new (revision
names), bake ({what, total, left} seconds, or None), hooks [{hookId, targetType,
status, expiresIn}], alarms [{name, state}], verdicts [str], events [(HH:MM:SS, message)].
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

ERROR_WINDOW = 10  # seconds of load balancer metrics behind each error rate
SPLIT_WIDTH = 40   # characters of the traffic split bar
REVISION_WIDTH = 24
STATUS_STYLE = {"SUCCESSFUL": "bold green", "IN_PROGRESS": "bold yellow",
                "PENDING": "yellow", "STOPPED": "bold red", "ROLLBACK_IN_PROGRESS": "bold red",
                "ROLLBACK_SUCCESSFUL": "bold red", "ROLLBACK_FAILED": "bold red"}
ALARM_STYLE = {"OK": "green", "ALARM": "bold red", "INSUFFICIENT_DATA": "yellow"}


def plain(view: dict) -> str:
    """The deployment in a few lines, as printed when stdout is not a terminal."""
    lines = [f"service {view['service']}: deployment {view['status']}"
             + (f", stage {view['stage']}" if view["stage"] else "")]
    for revision, status, running, desired, rollout in view["revisions"]:
        lines.append(f"  {status:8} {revision:32} {running}/{desired} running  {rollout}")
    for group in view["groups"]:
        share = f"{group['share']:5.1f}%" if group["share"] is not None else "   -  "
        lines.append(f"  {group['name']:32} traffic {share}  healthy "
                     f"{group['healthy']}/{group['targets']}  errors {_rate(group):4.1f}% "
                     f"(last {ERROR_WINDOW} s)")
    return "\n".join(lines)


def live(view: dict) -> RenderableType:
    """The deployment as a panel for a terminal."""
    title = Text.assemble(("service ", "dim"), (view["service"], "bold"), ("  deployment ", "dim"),
                          (view["status"], STATUS_STYLE.get(view["status"], "bold")))
    if view["stage"]:
        title.append("  stage ", "dim")
        title.append(view["stage"], "bold cyan")
    parts: list[RenderableType] = [_revisions(view)]
    if view.get("split") is not None:
        parts.append(_split(view))
    if view.get("bake"):
        parts.append(_bake(view["bake"]))
    if view.get("reason") and view["status"] not in ("IN_PROGRESS", "PENDING"):
        parts.append(Text(view["reason"], style="italic"))
    for hook in view.get("hooks") or []:
        parts.append(Text(f"waiting  hook {hook['hookId']} ({hook['targetType']}) "
                          f"{hook['status']}, times out in {_clock(hook['expiresIn'])}",
                          style="magenta"))
    if view["groups"]:
        parts.append(_groups(view["groups"]))
    verdicts = _verdicts(view)
    if verdicts is not None:
        parts.append(verdicts)
    if view.get("events"):
        events = Table.grid(padding=(0, 1))
        events.add_column(style="dim")
        events.add_column(overflow="fold")
        for at, message in view["events"]:
            events.add_row(at, message)
        parts.append(Text("events", style="bold"))
        parts.append(events)
    return Panel(Group(*parts), title=title, title_align="left", expand=True)


def _revisions(view: dict) -> Table:
    table = Table.grid(padding=(0, 1))
    for revision, status, running, desired, rollout in view["revisions"]:
        done = min(1.0, running / desired) if desired else 1.0
        table.add_row(Text(status, style="bold" if status == "PRIMARY" else "dim"),
                      Text(revision), _bar(done, REVISION_WIDTH,
                                           "green" if done >= 1 else "yellow"),
                      Text(f"{running}/{desired} running"), Text(rollout, style="dim"))
    return table


def _bar(fraction: float, width: int, style: str) -> Text:
    """A bar readable without colours too: █ for the part done, ░ for the rest."""
    filled = round(width * fraction)
    return Text.assemble(("█" * filled, style), ("░" * (width - filled), "dim"))


def _split(view: dict) -> Text:
    """`blue web:1 90% ████▓ 10% green web:2`: blue's share (█) left of green's (▓),
    one bar of SPLIT_WIDTH characters (told apart without colours too)."""
    new = max(0.0, min(100.0, view["split"]))
    green = round(SPLIT_WIDTH * new / 100)
    text = Text("traffic  ", style="bold")
    text.append(f"blue {view.get('old') or 'previous'} {100 - new:g}% ", style="blue")
    text.append("█" * (SPLIT_WIDTH - green), style="blue")
    text.append("▓" * green, style="green")
    text.append(f" {new:g}% green {view.get('new') or 'new'}", style="green")
    return text


def _bake(bake: dict) -> Text:
    text = Text("bake     ", style="bold")
    text.append(f"{bake['what']}: ")
    text.append(f"{_clock(bake['left'])} left", style="bold yellow")
    text.append(f" of {_clock(bake['total'])}", style="dim")
    return text


def _groups(groups: list[dict]) -> Table:
    table = Table(box=None, padding=(0, 1), show_edge=False)
    for heading in ("target group", "traffic", "healthy", f"5XX (last {ERROR_WINDOW} s)"):
        table.add_column(heading, style="dim" if heading == "target group" else None)
    for group in groups:
        share = f"{group['share']:.1f}%" if group["share"] is not None else "-"
        rate = _rate(group)
        table.add_row(group["name"], share, f"{group['healthy']}/{group['targets']}",
                      Text(f"{rate:.1f}%", style="bold red" if rate else "green"))
    return table


def _verdicts(view: dict) -> Text | None:
    alarms, verdicts = view.get("alarms") or [], view.get("verdicts") or []
    if not alarms and not verdicts:
        return None
    text = Text("verdicts ", style="bold")
    for alarm in alarms:
        text.append(f"alarm {alarm['name']} ")
        text.append(alarm["state"], style=ALARM_STYLE.get(alarm["state"], "bold"))
        text.append("  ")
    for verdict in verdicts:
        text.append(f"\n  {verdict}", style="cyan")
    return text


def _rate(group: dict) -> float:
    return 100 * group["errors"] / group["requests"] if group["requests"] else 0.0


def _clock(seconds: float) -> str:
    """m:ss (h:mm:ss past an hour)."""
    whole = max(0, int(seconds + 0.5))
    hours, rest = divmod(whole, 3600)
    return (f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours
            else f"{rest // 60}:{rest % 60:02d}")
