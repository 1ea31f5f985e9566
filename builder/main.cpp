// The cairn-build CLI lives here once the pipeline lands.
int main() { return 0; }
