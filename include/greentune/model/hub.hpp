#pragma once
// Models named by their Hugging Face hub id ("distilbert-base-uncased", "org/name"), found the way the
// huggingface_hub Python library finds them: in its local cache, else downloaded into that cache. The cache
// is laid out exactly as huggingface_hub writes it, so Python and greentune share one copy:
//
//   <cache>/models--ORG--NAME/refs/<revision>            the commit the revision pointed to (no newline)
//   <cache>/models--ORG--NAME/blobs/<etag>               file contents, named by the hub's ETag
//   <cache>/models--ORG--NAME/snapshots/<commit>/<file>  relative symlink to ../../blobs/<etag>
//   <cache>/models--ORG--NAME/.no_exist/<commit>/<file>  empty: the optional file is not in the repository
//   <cache>/.locks/models--ORG--NAME/<etag>.lock         taken while a blob downloads
//
// Files fetched: config.json, model.safetensors and vocab.txt (required), tokenizer_config.json (optional).
//
// Environment variables, as huggingface_hub reads them:
//   HF_HUB_CACHE      the cache directory (default $HF_HOME/hub)
//   HF_HOME           default $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface
//   HF_ENDPOINT       the hub's address (default https://huggingface.co)
//   HF_TOKEN          an access token for private and gated models; else the file $HF_TOKEN_PATH, else
//                     $HF_HOME/token (what `huggingface-cli login` writes)
//   HF_HUB_OFFLINE    1 / ON / YES / TRUE: never use the network, only the cache
// HubOptions given in code take precedence over these.

#include <filesystem>
#include <string>

namespace greentune::model {

struct HubOptions {
  std::string revision = "main";    // a branch, a tag, or a 40-hex-digit commit
  bool offline = false;             // true: as HF_HUB_OFFLINE=1
  std::filesystem::path cache_dir;  // empty: hub_cache_dir()
  std::string endpoint;             // empty: $HF_ENDPOINT, else https://huggingface.co
  std::string token;                // empty: $HF_TOKEN, else the token file, else none
};

// $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub
// ("~" expanded in each). Throws Error(usage) when the last one is needed and HOME is not set.
std::filesystem::path hub_cache_dir();

// The directory to load a model from. An existing local directory is returned as it is. A hub id is
// resolved to its snapshot directory in the cache: returned without any request when that snapshot already
// holds the required files, else the missing files are downloaded first (each blob resumable and, for
// large files, checked against the SHA-256 the hub publishes; the snapshot's links and the refs file are
// written only after every file is in).
// Throws Error(not_found) when the string is neither an existing directory nor a hub id, when the
// repository lacks a required file, or when offline mode is on and the cache lacks the model;
// Error(network) when the hub cannot be reached or refuses access (401/403: HF_TOKEN and gated models);
// Error(usage) for a malformed revision; Error(io) / Error(integrity) from writing and checking blobs.
std::filesystem::path resolve_model_dir(const std::string& model, const HubOptions& options = {});

}  // namespace greentune::model
