// Compilation: Grammar + TokenizerInfo -> CompiledGrammar (automaton + token mask cache).
//
// A CompiledGrammar is immutable once built and safe to share between threads and matchers.
#ifndef FORMGATE_COMPILER_H_
#define FORMGATE_COMPILER_H_

#include <memory>
#include <string>

#include "formgate/grammar.h"
#include "formgate/tokenizer_info.h"

namespace formgate {

class Automaton;
class MaskCache;

class CompiledGrammar {
 public:
  CompiledGrammar(Grammar grammar, std::shared_ptr<const TokenizerInfo> tokenizer, int threads);
  ~CompiledGrammar();

  const Grammar& GetGrammar() const { return grammar_; }
  const std::shared_ptr<const TokenizerInfo>& Tokenizer() const { return tokenizer_; }
  const Automaton& GetAutomaton() const { return *automaton_; }
  const MaskCache& Masks() const { return *masks_; }
  size_t MemoryBytes() const;

 private:
  Grammar grammar_;
  std::shared_ptr<const TokenizerInfo> tokenizer_;
  std::unique_ptr<Automaton> automaton_;
  std::unique_ptr<MaskCache> masks_;
};

class GrammarCompiler {
 public:
  GrammarCompiler(std::shared_ptr<const TokenizerInfo> tokenizer, int max_threads)
      : tokenizer_(std::move(tokenizer)), max_threads_(max_threads < 1 ? 1 : max_threads) {}

  std::shared_ptr<const CompiledGrammar> Compile(const Grammar& grammar) const {
    return std::make_shared<const CompiledGrammar>(grammar, tokenizer_, max_threads_);
  }
  const std::shared_ptr<const TokenizerInfo>& Tokenizer() const { return tokenizer_; }
  int MaxThreads() const { return max_threads_; }

 private:
  std::shared_ptr<const TokenizerInfo> tokenizer_;
  int max_threads_;
};

}  // namespace formgate

#endif  // FORMGATE_COMPILER_H_
