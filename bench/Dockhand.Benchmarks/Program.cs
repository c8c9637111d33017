Console.WriteLine("Benchmarks are added by the measurement issue.");
