namespace Dockhand.Terminal.Tests.Support;

/// <summary>Files a test leaves for people to look at: under the test output's <c>artifacts/</c> folder. Each path is printed.</summary>
public static class Artifacts
{
    public static string Directory { get; } = System.IO.Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "artifacts")).FullName;

    public static string PathOf(string name) => Path.Combine(Directory, name);

    public static string Write(string name, string text)
    {
        var path = PathOf(name);
        File.WriteAllText(path, text);
        Console.WriteLine($"artifact: {path}");
        TestContext.Current.SendDiagnosticMessage($"artifact: {path}");
        return path;
    }
}
