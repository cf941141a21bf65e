import koffi from 'koffi';
const lib = koffi.load(null);
const execvp = lib.func('int execvp(const char *file, const char **argv)');
const argv = process.argv.slice(2);
const r = execvp(argv[0], [...argv, null]);
console.error('exec failed', r, koffi.errno());
