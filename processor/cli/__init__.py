def main():
    print("todo")
