import { describe, expect, it } from 'vitest';
import { splitWords, WordsError } from '../../src/plan/words.js';

describe('splitWords', () => {
  it.each([
    ['node server.js', ['node', 'server.js']],
    ['  node   server.js  ', ['node', 'server.js']],
    ['a\tb\nc', ['a', 'b', 'c']],
    [`echo 'hello world'`, ['echo', 'hello world']],
    [`echo "hello world"`, ['echo', 'hello world']],
    [`echo 'a "b" c'`, ['echo', 'a "b" c']],
    [`echo "a 'b' c"`, ['echo', "a 'b' c"]],
    [`echo a'b c'd"e f"g`, ['echo', 'ab cde fg']],
    [`echo '' ""`, ['echo', '', '']],
    [String.raw`echo a\ b`, ['echo', 'a b']],
    [String.raw`echo \'x\'`, ['echo', "'x'"]],
    [String.raw`echo "a\"b" "c\\d" "\$HOME" "\n"`, ['echo', 'a"b', 'c\\d', '$HOME', '\\n']],
    [String.raw`echo 'a\b'`, ['echo', 'a\\b']],
    ['echo a\\\nb', ['echo', 'ab']],
    ['echo "a\\\nb"', ['echo', 'ab']],
    ['echo $HOME *.js ~ a|b >out', ['echo', '$HOME', '*.js', '~', 'a|b', '>out']],
    ['', []],
    ['   ', []],
  ])('%j', (text, words) => {
    expect(splitWords(text)).toEqual(words);
  });

  it('rejects unterminated quotes and a trailing backslash', () => {
    expect(() => splitWords(`echo 'oops`)).toThrow(new WordsError('unterminated single quote at character 6'));
    expect(() => splitWords(`echo "oops`)).toThrow(new WordsError('unterminated double quote at character 6'));
    expect(() => splitWords(`echo "oops\\"`)).toThrow('unterminated double quote');
    expect(() => splitWords('echo \\')).toThrow('command ends with a lone backslash');
  });
});
