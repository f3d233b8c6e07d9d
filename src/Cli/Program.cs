using System.CommandLine;
using TalkingFace.Cli.Commands;

// talkingface: run a job on the embedded pipeline (talk), or work with a running gateway.
var root = new RootCommand("TalkingFace: face-synthesis jobs from the command line")
{
    TalkCommand.Create(),
    HairCommand.Create(),
    RemoteCommands.Submit(),
    RemoteCommands.Probe(),
    RemoteCommands.Status(),
    RemoteCommands.Watch(),
    RemoteCommands.Cancel(),
    BatchCommand.Create(),
    CatalogCommands.Fleet(),
    CatalogCommands.Models(),
    KeyCommands.Create(),
};
return await root.Parse(args).InvokeAsync();

/// <summary>Internal: only the gateway's entry point is visible to the integration tests.</summary>
internal partial class Program;
