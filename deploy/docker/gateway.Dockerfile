# syntax=docker/dockerfile:1
# The gateway: HTTP API + web page on :8080, /metrics, /health/*; `--migrate-only` applies the database
# migrations and exits (the Helm chart's migration Job). Build from the repository root:
#   docker build -f deploy/docker/gateway.Dockerfile -t talkingface/gateway .
# It references the worker projects (standalone mode hosts them), so their sources are part of the build.
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
RUN rid=linux-$([ "$TARGETARCH" = arm64 ] && echo arm64 || echo x64) && \
    dotnet restore src/Gateway/TalkingFace.Gateway.csproj -r "$rid"
COPY src/Shared/ src/Shared/
COPY src/Workers.Audio/ src/Workers.Audio/
COPY src/Workers.Motion/ src/Workers.Motion/
COPY src/Workers.Hair/ src/Workers.Hair/
COPY src/Gateway/ src/Gateway/
RUN rid=linux-$([ "$TARGETARCH" = arm64 ] && echo arm64 || echo x64) && \
    dotnet publish src/Gateway/TalkingFace.Gateway.csproj -c Release -r "$rid" --self-contained false --no-restore \
      -p:UseAppHost=false -o /out

FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION}
# The gateway hosts the hair stage in standalone mode and decodes uploaded images: OpenCvSharp's native library
# needs GTK 3, libdrm and libatomic; opencv-data has the default face detector's cascades.
COPY deploy/docker/install-runtime.sh /tmp/install-runtime.sh
RUN sh /tmp/install-runtime.sh "libgtk-3-0t64|libgtk-3-0" libdrm2 libatomic1 opencv-data && rm /tmp/install-runtime.sh
ENV ASPNETCORE_HTTP_PORTS=8080 \
    Models__Root=/app/models
WORKDIR /app
COPY --from=build /out ./
# The gateway reads the motion models' contracts from the model store; the demo set is a few MB.
COPY models/ ./models/
# Standalone mode writes its SQLite file and artifacts under .data/ (an emptyDir under the chart).
RUN mkdir -p /app/.data && chown 1654:1654 /app/.data
USER 1654:1654
EXPOSE 8080
ENTRYPOINT ["dotnet", "TalkingFace.Gateway.dll"]
