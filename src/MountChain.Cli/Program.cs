using MountChain.Cli.Infrastructure;

StandardStreams.Adopt();
return CliApp.Run(args);
