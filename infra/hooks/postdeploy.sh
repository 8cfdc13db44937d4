#!/bin/sh
# azd postdeploy hook: builds the GPU trainer image (src/Rmt.GpuJob/Dockerfile.cuda) in the
# environment's container registry, points the Container Apps job at it, and records it in the azd
# environment (RMT_GPU_JOB_IMAGE) so that the next `azd provision` keeps it.
#   RMT_IMAGE_BUILD=acr    (default) build in Azure with `az acr build`: no local Docker needed
#   RMT_IMAGE_BUILD=docker build locally with Docker and push with `az acr login`
#   RMT_IMAGE_BUILD=skip   leave the job's image as it is
# Needs the Azure CLI logged in to the same tenant as azd (`az login`).
set -eu

: "${AZURE_CONTAINER_REGISTRY_NAME:?run azd provision first}"
: "${AZURE_CONTAINER_REGISTRY_ENDPOINT:?run azd provision first}"
: "${AZURE_RESOURCE_GROUP:?run azd provision first}"
: "${RMT_GPU_JOB_NAME:?run azd provision first}"

mode="${RMT_IMAGE_BUILD:-acr}"
[ "$mode" = skip ] && { echo "postdeploy: RMT_IMAGE_BUILD=skip, job image unchanged"; exit 0; }

dockerfile=src/Rmt.GpuJob/Dockerfile.cuda
[ -f "$dockerfile" ] || { echo "postdeploy: $dockerfile is missing" >&2; exit 1; }
tag="$(git rev-parse --short=12 HEAD 2>/dev/null || date -u +%Y%m%d%H%M%S)"
image="$AZURE_CONTAINER_REGISTRY_ENDPOINT/rmt-gpujob:$tag"

case "$mode" in
  acr)
    az acr build --registry "$AZURE_CONTAINER_REGISTRY_NAME" --image "rmt-gpujob:$tag" --file "$dockerfile" . ;;
  docker)
    az acr login --name "$AZURE_CONTAINER_REGISTRY_NAME"
    docker build --file "$dockerfile" --tag "$image" .
    docker push "$image" ;;
  *)
    echo "postdeploy: RMT_IMAGE_BUILD must be acr, docker or skip (got '$mode')" >&2; exit 1 ;;
esac

az containerapp job update --name "$RMT_GPU_JOB_NAME" --resource-group "$AZURE_RESOURCE_GROUP" --image "$image" --output none
azd env set RMT_GPU_JOB_IMAGE "$image"
echo "postdeploy: $RMT_GPU_JOB_NAME now runs $image"
