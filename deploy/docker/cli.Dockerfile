# syntax=docker/dockerfile:1
# The `talkingface` command: `submit`/`status` against a gateway, or `talk` (standalone, embedded workers).
#   docker build -f deploy/docker/cli.Dockerfile -t talkingface/cli .
#   docker run --rm -v "$PWD:/work" talkingface/cli submit clip.wav --server http://gateway --wait
#   docker run --rm -v "$PWD:/work" talkingface/cli talk clip.wav --models /app/models --out out
ARG DOTNET_VERSION=10.0

FROM --platform=$BUILDPLATFORM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION} AS build
ARG TARGETARCH
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY src/Shared/TalkingFace.Shared.csproj src/Shared/
COPY src/Workers.Audio/TalkingFace.Workers.Audio.csproj src/Workers.Audio/
COPY src/Workers.Motion/TalkingFace.Workers.Motion.csproj src/Workers.Motion/
COPY src/Workers.Hair/TalkingFace.Workers.Hair.csproj src/Workers.Hair/
COPY src/Gateway/TalkingFace.Gateway.csproj src/Gateway/
COPY src/Cli/TalkingFace.Cli.csproj src/Cli/
RUN rid=linux-$([ "$TARGETARCH" = arm64 ] && echo arm64 || echo x64) && \
    dotnet restore src/Cli/TalkingFace.Cli.csproj -r "$rid"
COPY src/ src/
RUN rid=linux-$([ "$TARGETARCH" = arm64 ] && echo arm64 || echo x64) && \
    dotnet publish src/Cli/TalkingFace.Cli.csproj -c Release -r "$rid" --self-contained false --no-restore \
      -p:UseAppHost=false -o /out

FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION}
COPY deploy/docker/install-runtime.sh /tmp/install-runtime.sh
# ffmpeg: `talk` renders the preview video.
RUN sh /tmp/install-runtime.sh ffmpeg && rm /tmp/install-runtime.sh
ENV Models__Root=/app/models
WORKDIR /app
COPY --from=build /out ./
COPY models/ ./models/
USER 1654:1654
WORKDIR /work
ENTRYPOINT ["dotnet", "/app/talkingface.dll"]
