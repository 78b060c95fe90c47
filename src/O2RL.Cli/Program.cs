using O2RL.Cli;

return CommandTable.Dispatch(args, Console.Out, Console.Error);
