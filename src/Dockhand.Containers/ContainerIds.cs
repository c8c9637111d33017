namespace Dockhand.Containers;

public static class ContainerIds
{
    /// <summary>The first 12 characters of an engine id, as <c>docker ps</c> shows it (shorter ids as they are).</summary>
    public static string Short(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        return id.Length > 12 ? id[..12] : id;
    }
}
