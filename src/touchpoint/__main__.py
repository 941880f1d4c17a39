from touchpoint.cli import main

main()
