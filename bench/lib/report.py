"""bench/lib/report.py - the results table (stdout and bench/RESULTS.md).

Each row has GMS's figure, the peer's figure and the ratio GMS / peer.
A row whose workload one side could not run says why, in a numbered note
under the table, instead of a number.
"""


def fmt(v):
    """A figure with three significant digits (thousands kept whole)."""
    if v is None:
        return "?"
    a = abs(v)
    if a >= 1000:
        return "{:,.0f}".format(v).replace(",", " ")
    if a >= 100:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    return "%.2f" % v


class Table:
    def __init__(self):
        self.rows = []
        self.notes = []

    def note(self, text):
        """The number of a footnote with text (reused when it repeats)."""
        if text in self.notes:
            return self.notes.index(text) + 1
        self.notes.append(text)
        return len(self.notes)

    def cell(self, r):
        """(text, number or None) for one side's result r."""
        if r is None:
            return "not run [%d]" % self.note("not reached (time budget or an earlier failure)"), None
        if "skip" in r:
            return "not run [%d]" % self.note(r["skip"]), None
        if r.get("value") is None:
            return "failed [%d]" % self.note(r.get("error", "no figure")), None
        text = fmt(r["value"])
        extra = r.get("error") or r.get("note")
        if extra:
            text += " [%d]" % self.note(extra)
        return text, r["value"]

    def add(self, label, unit, better, gms, peer, same=False):
        g, gv = self.cell(gms)
        p, pv = self.cell(peer)
        if same:
            ratio = "(one disk)"
        elif gv is not None and pv not in (None, 0):
            ratio = "%.2f" % (gv / pv)
        else:
            ratio = "-"
        self.rows.append((label, unit + (" (higher is better)" if better == "higher"
                                         else " (lower is better)" if better == "lower" else ""),
                          g, p, ratio))

    def markdown(self, peer_name):
        head = ("workload", "unit", "GMS", peer_name, "GMS / peer")
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for row in self.rows:
            out.append("| " + " | ".join(row) + " |")
        if self.notes:
            out.append("")
            for i, n in enumerate(self.notes, 1):
                out.append("[%d] %s  " % (i, n))
        return "\n".join(out)
