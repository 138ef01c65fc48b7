using Cai.Cli;
using Spectre.Console;

return await CaiCommand.Create(AnsiConsole.Console).Parse(args).InvokeAsync();
