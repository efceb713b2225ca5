#include "source_text.h"

#include <algorithm>

namespace formgate {

namespace {
bool IsContinuationByte(unsigned char c) { return (c & 0xC0) == 0x80; }
}  // namespace

SourcePos SourceText::PosOf(size_t offset) const {
  offset = std::min(offset, text_.size());
  if (offset < cursor_offset_) {
    cursor_offset_ = 0;
    cursor_pos_ = SourcePos{1, 1};
  }
  SourcePos pos = cursor_pos_;
  for (size_t i = cursor_offset_; i < offset; ++i) {
    unsigned char c = static_cast<unsigned char>(text_[i]);
    if (c == '\n') {
      ++pos.line;
      pos.column = 1;
    } else if (!IsContinuationByte(c)) {
      ++pos.column;
    }
  }
  cursor_offset_ = offset;
  cursor_pos_ = pos;
  return pos;
}

std::string SourceText::Excerpt(SourcePos pos) const {
  if (pos.line <= 0) return "";
  size_t begin = 0;
  for (int line = 1; line < pos.line; ++line) {
    begin = text_.find('\n', begin);
    if (begin == std::string::npos) return "";
    ++begin;
  }
  size_t end = text_.find('\n', begin);
  if (end == std::string::npos) end = text_.size();
  std::string line = text_.substr(begin, end - begin);
  std::string shown, caret;
  int column = 1;
  for (size_t i = 0; i < line.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(line[i]);
    // Control bytes would garble a terminal; show them escaped but keep the caret aligned.
    bool control = c < 0x20 && c != '\t';
    if (control) {
      static const char* hex = "0123456789abcdef";
      shown += "\\x";
      shown += hex[c >> 4];
      shown += hex[c & 15];
    } else {
      shown += static_cast<char>(c);
    }
    if (IsContinuationByte(c)) continue;
    if (column < pos.column) caret += c == '\t' ? "\t" : (control ? "    " : " ");
    ++column;
  }
  return "  " + shown + "\n  " + caret + "^";
}

}  // namespace formgate
