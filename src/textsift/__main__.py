from textsift.cli import main

main()
