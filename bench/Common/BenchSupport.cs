// Helpers shared by the C# load generators under bench/ (linked into each project, not a library).

internal static class Stats
{
    /// <summary>The nearest-rank percentile of values already sorted ascending; NaN when there are none.</summary>
    public static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}

internal static class Health
{
    public static async Task<(bool Ok, string Report)> WaitReadyAsync(Uri baseAddress, TimeSpan limit)
    {
        using var http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(10) };
        var until = DateTime.UtcNow + limit;
        var report = "";
        while (DateTime.UtcNow < until)
        {
            try
            {
                using var response = await http.GetAsync("/health/ready");
                report = await response.Content.ReadAsStringAsync();
                if (response.IsSuccessStatusCode) return (true, report.ReplaceLineEndings(" "));
            }
            catch (HttpRequestException e)
            {
                report = e.Message;
            }
            await Task.Delay(500);
        }
        return (false, report);
    }

    public static async Task<string> ReadTextAsync(Uri url)
    {
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            return await http.GetStringAsync(url);
        }
        catch (HttpRequestException)
        {
            return "";
        }
    }
}

internal sealed class Args(Dictionary<string, string> values)
{
    public static Args Parse(string[] args)
    {
        var values = new Dictionary<string, string>();
        for (var i = 0; i + 1 < args.Length; i += 2) values[args[i]] = args[i + 1];
        return new Args(values);
    }

    public string Get(string name, string fallback) => values.GetValueOrDefault(name, fallback);
}
