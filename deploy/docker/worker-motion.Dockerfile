# syntax=docker/dockerfile:1
# The motion worker: consumes motion.<device class> (Worker__DeviceClass), /metrics and /health/* on :8080.
# Build from the repository root (scripts/build-images does this for every image and variant):
#   docker build -f deploy/docker/worker-motion.Dockerfile -t talkingface/worker-motion .
# GPU (CUDA, x64) variant: ONNX Runtime's GPU package through the OnnxRuntimeGpu build switch, on a CUDA base:
#   --build-arg ONNX_RUNTIME_GPU=true --build-arg RUNTIME_BASE=nvidia/cuda:13.0.0-cudnn-runtime-ubuntu24.04
# arm64 (Jetson, Graviton...): --platform linux/arm64 (cross-compiled; the runtime base must be arm64).
ARG DOTNET_VERSION=10.0
ARG RUNTIME_BASE=mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION}

FROM --platform=$BUILDPLATFORM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION} AS build
ARG TARGETARCH
ARG ONNX_RUNTIME_GPU=false
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY src/Shared/TalkingFace.Shared.csproj src/Shared/
COPY src/Workers.Motion/TalkingFace.Workers.Motion.csproj src/Workers.Motion/
RUN rid=linux-$([ "$TARGETARCH" = arm64 ] && echo arm64 || echo x64) && \
    dotnet restore src/Workers.Motion/TalkingFace.Workers.Motion.csproj -r "$rid" -p:OnnxRuntimeGpu=$ONNX_RUNTIME_GPU
COPY src/Shared/ src/Shared/
COPY src/Workers.Motion/ src/Workers.Motion/
RUN rid=linux-$([ "$TARGETARCH" = arm64 ] && echo arm64 || echo x64) && \
    dotnet publish src/Workers.Motion/TalkingFace.Workers.Motion.csproj -c Release -r "$rid" --self-contained false --no-restore \
      -p:OnnxRuntimeGpu=$ONNX_RUNTIME_GPU -p:UseAppHost=false -o /out

FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION} AS dotnet

FROM ${RUNTIME_BASE}
COPY --from=dotnet /usr/share/dotnet /usr/share/dotnet
COPY deploy/docker/install-runtime.sh /tmp/install-runtime.sh
RUN sh /tmp/install-runtime.sh ffmpeg && rm /tmp/install-runtime.sh
ENV DOTNET_ROOT=/usr/share/dotnet \
    DOTNET_RUNNING_IN_CONTAINER=true \
    ASPNETCORE_HTTP_PORTS=8080 \
    Models__Root=/app/models
WORKDIR /app
COPY --from=build /out ./
# The demo model set (a few MB); mount a real one at /models and set Models__Root=/models.
COPY models/ ./models/
USER 1654:1654
EXPOSE 8080
ENTRYPOINT ["dotnet", "TalkingFace.Workers.Motion.dll"]
