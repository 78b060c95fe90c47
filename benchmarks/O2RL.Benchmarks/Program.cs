using BenchmarkDotNet.Running;

// Every benchmark class in this assembly, selected with BenchmarkDotNet's usual arguments, e.g.
//   dotnet run -c Release --project benchmarks/O2RL.Benchmarks -- --filter '*MlpStep*' --job short --inProcess
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
