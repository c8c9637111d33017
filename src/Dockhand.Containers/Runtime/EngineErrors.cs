namespace Dockhand.Containers;

/// <summary>An engine call failed. <see cref="Exception.Message"/> is one line, fit for an operator (never a stack trace).</summary>
public abstract class EngineException(string message, Exception? inner) : Exception(message, inner);

/// <summary>The engine could not be reached or did not answer in time.</summary>
public sealed class EngineUnavailableException(string reason, Exception? inner = null) : EngineException(reason, inner);

/// <summary>The engine answered and refused; the message is the engine's own reason.</summary>
public sealed class EngineRefusedException(string reason, EngineRefusal kind, Exception? inner = null) : EngineException(reason, inner)
{
    public EngineRefusal Kind { get; } = kind;
}

/// <summary>Why the engine refused, as far as callers act on it.</summary>
public enum EngineRefusal
{
    /// <summary>Something else (a bad request, a server error).</summary>
    Other,

    /// <summary>The container, image, volume, network or process does not exist.</summary>
    NotFound,

    /// <summary>It exists but is in the wrong state (a stopped container for an exec, a name in use).</summary>
    Conflict,

    /// <summary>
    /// The backend cannot run the container where it must (a Swarm: no suitable node, the image missing on the node). The
    /// message is one sentence fit for users (<see cref="Refusals.CannotPlace"/>); the engine's own reason is logged.
    /// </summary>
    Placement,
}
