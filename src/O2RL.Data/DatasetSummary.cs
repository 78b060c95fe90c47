namespace O2RL.Data;

/// <summary>Mean, population std, min and max of a set of values (NaN when empty).</summary>
/// <param name="Count">Number of values.</param>
/// <param name="Mean">Mean.</param>
/// <param name="Std">Population standard deviation.</param>
/// <param name="Min">Minimum.</param>
/// <param name="Max">Maximum.</param>
public readonly record struct Statistics(int Count, double Mean, double Std, double Min, double Max)
{
    /// <summary>Statistics of the given values.</summary>
    public static Statistics Of(IReadOnlyCollection<double> values)
    {
        if (values.Count == 0) return new Statistics(0, double.NaN, double.NaN, double.NaN, double.NaN);
        double mean = values.Average();
        double variance = values.Sum(v => (v - mean) * (v - mean)) / values.Count;
        return new Statistics(values.Count, mean, Math.Sqrt(variance), values.Min(), values.Max());
    }
}

/// <summary>What <c>o2rl dataset info</c> reports about a dataset.</summary>
/// <param name="Rows">Raw rows N.</param>
/// <param name="Transitions">Transitions after the D4RL Q-learning conversion.</param>
/// <param name="Episodes">Episodes (including a cut-off last one).</param>
/// <param name="CutOffEpisodes">Episodes cut by the end of the file (0 or 1).</param>
/// <param name="ObservationDim">obs_dim.</param>
/// <param name="ActionDim">act_dim.</param>
/// <param name="Terminals">Rows with terminals set.</param>
/// <param name="Timeouts">Rows with timeouts set, or null when there is no timeouts key.</param>
/// <param name="HasNextObservations">Whether next_observations is stored.</param>
/// <param name="EpisodeReturns">Undiscounted return statistics over all episodes.</param>
/// <param name="EpisodeLengths">Episode length statistics.</param>
/// <param name="Rewards">Per-row reward statistics.</param>
/// <param name="TaskId">Task id used for the normalised score, when one is known.</param>
/// <param name="NormalizedReturnMean">D4RL normalised score of the mean episode return, when the task is known.</param>
public sealed record DatasetSummary(int Rows, int Transitions, int Episodes, int CutOffEpisodes, int ObservationDim, int ActionDim,
    int Terminals, int? Timeouts, bool HasNextObservations, Statistics EpisodeReturns, Statistics EpisodeLengths, Statistics Rewards,
    string? TaskId, double? NormalizedReturnMean)
{
    /// <summary>
    /// Summarises a dataset. The task id for the normalised score is taken from the metadata, else from
    /// <paramref name="fallbackTaskId"/> (e.g. the file name "hopper-medium-v2"), when reference scores are known for it.
    /// </summary>
    public static DatasetSummary Of(TransitionDataset dataset, string? fallbackTaskId = null, int? timeLimitWithoutTimeouts = 1000)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        var episodes = dataset.Episodes(timeLimitWithoutTimeouts);
        int transitions = DatasetConversions.D4rlQLearningRows(dataset, timeLimitWithoutTimeouts).Length;
        var returns = Statistics.Of(episodes.Select(e => e.Return).ToList());
        string? task = null;
        foreach (var candidate in new[] { dataset.Metadata.EnvironmentId, fallbackTaskId })
            if (candidate is not null && NormalizedScores.TryGet(candidate, out _)) { task = candidate; break; }
        double? normalized = task is not null && returns.Count > 0 ? NormalizedScores.Normalize(task, returns.Mean) : null;
        return new DatasetSummary(dataset.RowCount, transitions, episodes.Count, episodes.Count(e => e.End == EpisodeEnd.CutOff),
            dataset.ObservationDim, dataset.ActionDim, dataset.TerminalCount, dataset.Timeouts is null ? null : dataset.TimeoutCount,
            dataset.NextObservations is not null, returns, Statistics.Of(episodes.Select(e => (double)e.Length).ToList()),
            Statistics.Of(dataset.Rewards.Select(r => (double)r).ToList()), task, normalized);
    }
}
