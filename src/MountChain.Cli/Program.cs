using MountChain.Cli.Infrastructure;

return CliApp.Run(args);
