// The dockhand executable only composes: the CLI parses the verb and runs it.
return await Dockhand.Cli.CliApp.RunAsync(args);
