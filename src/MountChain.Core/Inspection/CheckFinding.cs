namespace MountChain.Core.Inspection;

/// <summary>How bad a finding of `check` is.</summary>
internal enum FindingSeverity
{
    /// <summary>The link is damaged or does not belong where it is: reading it is refused or wrong.</summary>
    Problem,
    /// <summary>Readable, but something cannot be vouched for (unchecked CID, unclean shutdown, out-of-spec form).</summary>
    Warning,
}

/// <summary>One hazard of format doc §10.2 found by `check`: the file, the field, its byte offset in that file when known, and what is wrong.</summary>
internal sealed record CheckFinding(string File, string Field, long? Offset, FindingSeverity Severity, string Message);

/// <summary>Collects findings with a bound per kind, so a file with millions of bad entries reports a readable list.</summary>
internal sealed class FindingList
{
    /// <summary>Findings kept per (file, kind); the rest are counted in one summary line.</summary>
    public const int MaxPerKind = 20;

    private readonly List<CheckFinding> _items = [];
    private readonly Dictionary<(string, string), (int Count, FindingSeverity Severity)> _perKind = [];

    public IReadOnlyList<CheckFinding> Items => _items;

    public void Problem(string file, string field, long? offset, string message, string kind = "") =>
        Add(new CheckFinding(file, field, offset, FindingSeverity.Problem, message), kind);

    public void Warning(string file, string field, long? offset, string message, string kind = "") =>
        Add(new CheckFinding(file, field, offset, FindingSeverity.Warning, message), kind);

    private void Add(CheckFinding finding, string kind)
    {
        var key = (finding.File, kind);
        int n = _perKind.GetValueOrDefault(key).Count + 1;
        _perKind[key] = (n, finding.Severity);
        if (kind.Length == 0 || n <= MaxPerKind) _items.Add(finding);
    }

    /// <summary>Adds "… N more" lines for kinds that went over the bound.</summary>
    public void Summarise()
    {
        foreach (var ((file, kind), (n, severity)) in _perKind)
            if (kind.Length > 0 && n > MaxPerKind)
                _items.Add(new CheckFinding(file, kind, null, severity, $"{n - MaxPerKind} more findings of this kind not listed ({n} in all)"));
    }
}
