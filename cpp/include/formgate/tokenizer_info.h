// The vocabulary as the matcher sees it: the exact bytes each token id contributes to the text.
//
// Ids listed as special never match grammar text; stop ids are allowed exactly when the grammar
// can end; ids in [encoded_vocab.size(), vocab_size) are model padding and always masked. Empty
// tokens that are neither are also never allowed (they would let generation stall).
#ifndef FORMGATE_TOKENIZER_INFO_H_
#define FORMGATE_TOKENIZER_INFO_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace formgate {

class TokenTrie;

class TokenizerInfo {
 public:
  // Throws std::invalid_argument for ids outside [0, vocab_size) or vocab_size < vocab length.
  TokenizerInfo(std::vector<std::string> encoded_vocab, int32_t vocab_size,
                std::vector<int32_t> stop_token_ids, std::vector<int32_t> special_token_ids);
  ~TokenizerInfo();

  int32_t VocabSize() const { return vocab_size_; }
  const std::vector<std::string>& DecodedVocab() const { return vocab_; }
  const std::vector<int32_t>& StopTokenIds() const { return stop_ids_; }
  const std::vector<int32_t>& SpecialTokenIds() const { return special_ids_; }
  bool IsStop(int32_t id) const { return kind_[id] == kStop; }
  // True for ids that can match grammar text (not special, stop, empty or padding).
  bool IsText(int32_t id) const { return kind_[id] == kText; }
  const TokenTrie& Trie() const { return *trie_; }
  size_t MemoryBytes() const;

 private:
  enum Kind : uint8_t { kText, kStop, kNever };
  std::vector<std::string> vocab_;
  int32_t vocab_size_;
  std::vector<int32_t> stop_ids_, special_ids_;
  std::vector<uint8_t> kind_;
  std::unique_ptr<TokenTrie> trie_;
};

}  // namespace formgate

#endif  // FORMGATE_TOKENIZER_INFO_H_
