// Compilation: Grammar + TokenizerInfo -> CompiledGrammar (automaton + token mask cache).
//
// A CompiledGrammar is immutable once built and safe to share between threads and matchers.
#ifndef FORMGATE_COMPILER_H_
#define FORMGATE_COMPILER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "formgate/grammar.h"
#include "formgate/tokenizer_info.h"

namespace formgate {

class Automaton;
class MaskCache;

class CompiledGrammar {
 public:
  // Token prechecks are computed lazily, per automaton state, the first time a matcher needs
  // them (see mask_cache.h); `precompute` (or Precompute()) does them all now instead.
  CompiledGrammar(Grammar grammar, std::shared_ptr<const TokenizerInfo> tokenizer,
                  bool precompute = false);
  ~CompiledGrammar();

  const Grammar& GetGrammar() const { return grammar_; }
  const std::shared_ptr<const TokenizerInfo>& Tokenizer() const { return tokenizer_; }
  const Automaton& GetAutomaton() const { return *automaton_; }
  const MaskCache& Masks() const { return *masks_; }
  // Grows as prechecks are computed.
  size_t MemoryBytes() const;
  void Precompute() const;

 private:
  Grammar grammar_;
  std::shared_ptr<const TokenizerInfo> tokenizer_;
  std::unique_ptr<Automaton> automaton_;
  std::unique_ptr<MaskCache> masks_;
};

// Compiles grammars for one vocabulary and caches the results, keyed by the normalised grammar
// text. The cache is bounded in bytes (least recently used entries are evicted first; 0
// disables it) and safe to use from many threads; two threads compiling the same new grammar
// may both compile it, and the first result wins.
class GrammarCompiler {
 public:
  GrammarCompiler(std::shared_ptr<const TokenizerInfo> tokenizer, int max_threads,
                  int64_t cache_limit_bytes = kDefaultCacheLimitBytes);
  ~GrammarCompiler();

  std::shared_ptr<const CompiledGrammar> Compile(const Grammar& grammar) const;
  const std::shared_ptr<const TokenizerInfo>& Tokenizer() const { return tokenizer_; }
  int MaxThreads() const { return max_threads_; }
  int64_t CacheSizeBytes() const;
  void ClearCache();

  static constexpr int64_t kDefaultCacheLimitBytes = 256ll << 20;

 private:
  struct Cache;
  std::shared_ptr<const TokenizerInfo> tokenizer_;
  int max_threads_;
  std::unique_ptr<Cache> cache_;
};

}  // namespace formgate

#endif  // FORMGATE_COMPILER_H_
