#include <list>
#include <mutex>
#include <unordered_map>

#include "formgate/compiler.h"

namespace formgate {

struct GrammarCompiler::Cache {
  struct Entry {
    std::string key;
    std::shared_ptr<const CompiledGrammar> value;
    int64_t bytes;
  };
  std::mutex mu;
  std::list<Entry> lru;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index;
  int64_t bytes = 0;
  int64_t limit;

  explicit Cache(int64_t limit_bytes) : limit(limit_bytes) {}

  std::shared_ptr<const CompiledGrammar> Get(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = index.find(key);
    if (it == index.end()) return nullptr;
    lru.splice(lru.begin(), lru, it->second);
    return it->second->value;
  }

  std::shared_ptr<const CompiledGrammar> Put(const std::string& key,
                                             std::shared_ptr<const CompiledGrammar> value) {
    int64_t size = static_cast<int64_t>(value->MemoryBytes() + key.size());
    std::lock_guard<std::mutex> lock(mu);
    auto it = index.find(key);
    if (it != index.end()) return it->second->value;
    if (size > limit) return value;  // larger than the whole cache: not kept
    lru.push_front({key, value, size});
    index[key] = lru.begin();
    bytes += size;
    while (bytes > limit) {
      bytes -= lru.back().bytes;
      index.erase(lru.back().key);
      lru.pop_back();
    }
    return value;
  }
};

GrammarCompiler::GrammarCompiler(std::shared_ptr<const TokenizerInfo> tokenizer, int max_threads,
                                 int64_t cache_limit_bytes)
    : tokenizer_(std::move(tokenizer)),
      max_threads_(max_threads < 1 ? 1 : max_threads),
      cache_(std::make_unique<Cache>(cache_limit_bytes < 0 ? 0 : cache_limit_bytes)) {}

GrammarCompiler::~GrammarCompiler() = default;

std::shared_ptr<const CompiledGrammar> GrammarCompiler::Compile(const Grammar& grammar) const {
  if (cache_->limit == 0) {
    return std::make_shared<const CompiledGrammar>(grammar, tokenizer_);
  }
  // The printed grammar lists the root first, so equal keys mean equal languages and roots.
  std::string key = grammar.ToString();
  if (auto hit = cache_->Get(key)) return hit;
  return cache_->Put(key, std::make_shared<const CompiledGrammar>(grammar, tokenizer_));
}

int64_t GrammarCompiler::CacheSizeBytes() const {
  std::lock_guard<std::mutex> lock(cache_->mu);
  return cache_->bytes;
}

void GrammarCompiler::ClearCache() {
  std::lock_guard<std::mutex> lock(cache_->mu);
  cache_->lru.clear();
  cache_->index.clear();
  cache_->bytes = 0;
}

}  // namespace formgate
