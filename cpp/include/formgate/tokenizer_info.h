// The vocabulary as the matcher sees it: the exact bytes each token id contributes to the text.
//
// Stop ids are allowed exactly when the grammar can end; ids in [encoded_vocab.size(),
// vocab_size) are model padding and always masked. Empty tokens that are neither are also never
// allowed (they would let generation stall).
//
// Special tokens never match grammar text. Each one (not a stop id) is instead matched as its
// marker, kSpecialMarkerByte followed by the id as 3 big-endian bytes, which is what a grammar's
// special-token terminal compiles to (see compiler.h). Grammar text is UTF-8, which never holds
// byte 0xFF, so a grammar without such a terminal never allows a special token; ordinary tokens
// whose bytes hold 0xFF are never allowed, so no run of text tokens can spell a marker.
#ifndef FORMGATE_TOKENIZER_INFO_H_
#define FORMGATE_TOKENIZER_INFO_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace formgate {

class TokenTrie;

constexpr char kSpecialMarkerByte = '\xFF';
// Special ids above this have no marker (3 bytes) and are never allowed.
constexpr int32_t kMaxMarkerId = (1 << 24) - 1;

// kSpecialMarkerByte + id as 3 big-endian bytes; id in [0, kMaxMarkerId].
std::string SpecialTokenMarker(int32_t id);

class TokenizerInfo {
 public:
  // `special_token_names` maps token texts (e.g. "<tool_call>") to ids; a named id that is not
  // a stop id becomes special. Special and stop ids whose encoded_vocab entry is non-empty UTF-8
  // are also named by that text (explicit names take precedence). Throws std::invalid_argument
  // for ids outside [0, vocab_size) or vocab_size < vocab length.
  TokenizerInfo(std::vector<std::string> encoded_vocab, int32_t vocab_size,
                std::vector<int32_t> stop_token_ids, std::vector<int32_t> special_token_ids,
                std::vector<std::pair<std::string, int32_t>> special_token_names = {});
  ~TokenizerInfo();

  int32_t VocabSize() const { return vocab_size_; }
  int32_t VocabLength() const { return static_cast<int32_t>(vocab_.size()); }
  // The bytes the matcher matches for each id below VocabLength(): markers for special tokens.
  const std::vector<std::string>& MatchedVocab() const { return vocab_; }
  // What token `id` reads as: its encoded_vocab entry, or for a special token given as empty
  // its name (so that decoded text shows "<tool_call>"), or empty.
  const std::string& DecodedToken(int32_t id) const;
  const std::vector<int32_t>& StopTokenIds() const { return stop_ids_; }
  const std::vector<int32_t>& SpecialTokenIds() const { return special_ids_; }
  // Name -> id of the named special and stop tokens.
  const std::map<std::string, int32_t>& SpecialTokens() const { return names_; }
  bool IsStop(int32_t id) const { return kind_[id] == kStop; }
  // True for ids matched through MatchedVocab(): text tokens and special tokens' markers (not
  // stop, empty, padding or 0xFF-holding ids).
  bool IsText(int32_t id) const { return kind_[id] == kText || kind_[id] == kSpecial; }
  // True for special ids that a special-token terminal can match.
  bool IsSpecialTerminal(int32_t id) const { return kind_[id] == kSpecial; }
  const TokenTrie& Trie() const { return *trie_; }
  size_t MemoryBytes() const;

 private:
  enum Kind : uint8_t { kText, kStop, kNever, kSpecial };
  std::vector<std::string> vocab_;
  int32_t vocab_size_;
  std::vector<int32_t> stop_ids_, special_ids_;
  std::vector<uint8_t> kind_;
  std::map<std::string, int32_t> names_;
  // DecodedToken() of ids whose vocab_ entry became a marker.
  std::unordered_map<int32_t, std::string> shown_;
  std::unique_ptr<TokenTrie> trie_;
};

}  // namespace formgate

#endif  // FORMGATE_TOKENIZER_INFO_H_
