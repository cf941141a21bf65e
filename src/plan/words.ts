// Splits a command string into argv words the way a POSIX shell splits words:
// whitespace separates, '…' is literal, "…" allows \" \\ \$ \` escapes, and a
// backslash outside quotes escapes the next character. Nothing is expanded:
// $VARS, globs, ~ and operators like | or > stay literal text.

export class WordsError extends Error {
  override name = 'WordsError';
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);
/** Inside double quotes, a backslash only escapes these (else it stays). */
const DOUBLE_QUOTE_ESCAPABLE = new Set(['$', '`', '"', '\\', '\n']);

export function splitWords(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (WHITESPACE.has(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end === -1) throw new WordsError(`unterminated single quote at character ${i + 1}`);
      word += text.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      const start = i;
      i++;
      for (;;) {
        if (i >= text.length) throw new WordsError(`unterminated double quote at character ${start + 1}`);
        const d = text[i]!;
        if (d === '"') break;
        if (d === '\\' && i + 1 < text.length && DOUBLE_QUOTE_ESCAPABLE.has(text[i + 1]!)) {
          if (text[i + 1] !== '\n') word += text[i + 1];
          i += 2;
        } else {
          word += d;
          i++;
        }
      }
      inWord = true;
      i++;
    } else if (c === '\\') {
      if (i + 1 >= text.length) throw new WordsError('command ends with a lone backslash');
      // Backslash-newline is a line continuation: it joins, it is not a character.
      if (text[i + 1] !== '\n') {
        word += text[i + 1];
        inWord = true;
      }
      i += 2;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}
