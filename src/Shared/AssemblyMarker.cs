namespace TalkingFace; internal static class AssemblyMarker;
