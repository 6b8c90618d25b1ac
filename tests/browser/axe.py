"""axe-core in the browser tests (SPEC N6).

axe-core is the npm package installed by `.ci/run` (`npm ci`, package.json),
never a CDN. The policy forbids inline scripts, so it is not added as a
<script> tag: Playwright registers it as an init script (DevTools protocol),
which every document of the page runs before its own scripts and which the
page's Content Security Policy does not govern.
"""

from __future__ import annotations

from pathlib import Path

import pytest

AXE_PATH = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING_IMPACTS = {"serious", "critical"}


def require_axe() -> None:
    if not AXE_PATH.exists():
        pytest.skip(
            f"{AXE_PATH.relative_to(AXE_PATH.parents[2])} is missing: run `npm ci` "
            "(.ci/run does) to install axe-core"
        )


def install(page) -> None:
    require_axe()
    page.add_init_script(path=str(AXE_PATH))


def violations(page, context: str | None = None) -> list[dict]:
    """The serious and critical axe violations of the page as it is now
    (optionally only inside the ``context`` selector)."""
    page.wait_for_function("() => typeof window.axe !== 'undefined'")
    result = page.evaluate(
        """async (context) => {
            const report = await axe.run(context || document, {
                resultTypes: ["violations"],
                runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
            });
            return report.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(" ") + " :: " + n.failureSummary),
            }));
        }""",
        context,
    )
    return [v for v in result if v["impact"] in BLOCKING_IMPACTS]


def assert_accessible(page, what: str, context: str | None = None) -> None:
    found = violations(page, context)
    report = "\n".join(
        f"- {v['impact']} {v['id']}: {v['help']}\n    " + "\n    ".join(v["nodes"][:5])
        for v in found
    )
    assert not found, f"axe: serious or critical violations on {what}:\n{report}"
